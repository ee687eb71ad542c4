// The lenient execution warned and the build went on; the strict one failed the build (BUILD
// FAILURE, not an error) naming <maxPerplexity> and the measured perplexity, which is the one
// recorded in evaluation.json; nothing after the failed gate ran.
import groovy.json.JsonSlurper

def fail = { String why -> throw new AssertionError(why) }
def log = new File(basedir, 'build.log').getText('UTF-8')
def json = new JsonSlurper()

def pattern = /<maxPerplexity> 1\.5 exceeded: measured perplexity ([0-9.]+) on heldout\.txt \(checkpoint [^)]+\); train longer or raise <maxPerplexity> \(-Ditera\.evaluate\.maxPerplexity=\.\.\.\)/
def warned = log.readLines().findAll { it.startsWith('[WARNING]') && it =~ pattern }
if (warned.size() != 1) fail("expected one gate warning from evaluate-lenient, found " + warned.size())
def failed = log.readLines().findAll { it.startsWith('[ERROR] Failed to execute goal') && it.contains('evaluate (evaluate-gate)') }
if (failed.size() != 1) fail("expected the build to fail in evaluate-gate")
def m = failed[0] =~ pattern
if (!m.find()) fail("the failure does not name <maxPerplexity> and the measured value: " + failed[0])
double measured = m.group(1) as double
if (!log.contains('BUILD FAILURE')) fail("no BUILD FAILURE")

def strict = json.parse(new File(basedir, 'target/itera/evaluation.json'))
def lenient = json.parse(new File(basedir, 'target/itera/evaluation-lenient.json'))
[strict, lenient].each { ev ->
  if (ev.passed != false || ev.maxPerplexity != 1.5) fail("evaluation JSON does not record the failed gate: " + ev)
  if (Math.abs((ev.perplexity as double) - measured) > 5e-4) fail("logged perplexity " + measured + " is not the recorded " + ev.perplexity)
}
if (!(measured > 1.5)) fail("measured perplexity " + measured + " would have passed")
if (new File(basedir, 'target/itera/report.md').exists()) fail("the report ran after the failed gate")
return true
