// Build 1 compressed into q8_0 and q4_0 (checkpoints + report) and benchmarked the q4_0 checkpoint;
// build 2 skipped compress by its flag; build 3 found the variants up to date.
import groovy.json.JsonSlurper

def fail = { String why -> throw new AssertionError(why) }
def log = new File(basedir, 'build.log').getText('UTF-8')
def count = { String s -> log.split(java.util.regex.Pattern.quote(s), -1).length - 1 }
def itera = new File(basedir, 'target/itera')

def report = new JsonSlurper().parse(new File(itera, 'compression.json'))
def rows = report.rows
if (!(rows instanceof List) || rows.size() != 3) fail("compression.json should have 3 rows (baseline, q8_0, q4_0): " + rows)
def byName = rows.collectEntries { [(it.name): it] }
['cmp', 'q8_0', 'q4_0'].each { if (!byName.containsKey(it)) fail("compression.json has no row " + it + ": " + byName.keySet()) }
def base = byName.cmp, q8 = byName.q8_0, q4 = byName.q4_0
[base, q8, q4].each { r ->
  ['bytesOnDisk', 'perplexity', 'decodeTokensPerSec'].each { k ->
    if (!(r[k] instanceof Number) || !(r[k] > 0)) fail("row " + r.name + " " + k + " = " + r[k])
  }
}
if (!(q8.bytesOnDisk < base.bytesOnDisk && q4.bytesOnDisk < q8.bytesOnDisk)) {
  fail("sizes are not F32 > q8_0 > q4_0: " + [base.bytesOnDisk, q8.bytesOnDisk, q4.bytesOnDisk])
}
if (!(q4.bitsPerWeight > 4 && q4.bitsPerWeight < q8.bitsPerWeight && q8.bitsPerWeight < 32)) {
  fail("bits per weight: q8_0 " + q8.bitsPerWeight + ", q4_0 " + q4.bitsPerWeight)
}
if (!new File(itera, 'compression.md').text.contains('| q4_0 |')) fail("compression.md has no q4_0 row")
['q8_0', 'q4_0'].each { v ->
  def root = new File(itera, 'compressed/' + v)
  def last = new File(root, 'LAST')
  if (!last.isFile() || !new File(root, last.text.trim() + '/model.safetensors').isFile()) fail("no checkpoint for variant " + v)
}

def bench = new JsonSlurper().parse(new File(itera, 'benchmark.json'))
if (bench.models.size() != 1 || bench.models[0].name != 'q4_0' || !(bench.models[0].decodeTokensPerSec > 0)) {
  fail("benchmark.json does not hold the q4_0 checkpoint's run: " + bench.models)
}

if (count('Compression report: ') != 1) fail("compress ran " + count('Compression report: ') + " times, expected once")
if (count('Skipping itera:compress (itera.compress.skip is set)') != 1) fail("build 2 did not skip compress by its flag")
if (count('are up to date (inputs ') != 1) fail("build 3 did not find the compressed variants up to date")
if (count("Model 'cmp' is up to date") != 2) fail("builds 2 and 3 should find the trained model up to date")
return true
