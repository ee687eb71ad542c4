// Checks the outputs of train -> evaluate -> benchmark -> report and the lines the goals log.
import groovy.json.JsonSlurper

def fail = { String why -> throw new AssertionError(why) }
def itera = new File(basedir, 'target/itera')
def log = new File(basedir, 'build.log').getText('UTF-8')
def json = new JsonSlurper()
def file = { String path ->
  def f = new File(itera, path)
  if (!f.isFile() || f.length() == 0) fail("missing or empty: target/itera/" + path)
  f
}

// train: a checkpoint root with LAST/BEST pointers, step folders with every file, metrics CSV, stamp
def root = new File(itera, 'checkpoints/it')
['LAST', 'BEST', 'metrics.csv', 'training-config.json', 'itera-train.sha256'].each { file('checkpoints/it/' + it) }
def last = new File(root, 'LAST').text.trim()
def step = new File(root, last)
if (!step.isDirectory()) fail("LAST names '" + last + "', which is not a folder of " + root)
['model.safetensors', 'config.json', 'tokenizer.bin', 'trainer-state.json', 'optimizer.safetensors'].each {
  if (!new File(step, it).isFile()) fail("checkpoint " + step + " lacks " + it)
}
if (last != 'step-00000006') fail("6 steps were configured but LAST is " + last)
def csv = new File(root, 'metrics.csv').readLines()
if (csv[0] != 'step,tokens_seen,lr,train_loss,val_loss,grad_norm,tokens_per_s,aux_loss,expert_load') {
  fail("metrics.csv header: " + csv[0])
}
def rows = csv.drop(1).findAll { it.trim() }
if (rows.size() != 6) fail("metrics.csv should hold one row per step (6), has " + rows.size())
rows.each { r ->
  def loss = r.split(',')[3] as double
  if (!(loss > 0 && loss < 20)) fail("implausible train loss in metrics.csv row: " + r)
}
if (!log.contains("Trained 'it': 6 steps")) fail("no training summary line in build.log")
if (!log.contains('step 2/6 (')) fail("no progress line for step 2 of 6 in build.log")

// evaluate: evaluation.json with finite metrics, gate passed
def ev = json.parse(file('evaluation.json'))
['loss', 'perplexity', 'bitsPerToken', 'bitsPerByte'].each {
  if (!(ev[it] instanceof Number) || !(ev[it] > 0)) fail("evaluation.json " + it + " = " + ev[it])
}
if (Math.abs(Math.exp(ev.loss as double) - (ev.perplexity as double)) > 1e-6 * (ev.perplexity as double)) {
  fail("evaluation.json: perplexity " + ev.perplexity + " is not exp(loss " + ev.loss + ")")
}
if (ev.passed != true || ev.maxPerplexity != 1000) fail("evaluation.json gate: " + ev)
if (ev.step != 6 && ev.step != 3) fail("evaluation.json evaluated step " + ev.step)

// benchmark: schema version 1, one model with the documented core keys, kernels and roofline
def bench = json.parse(file('benchmark.json'))
if (bench.schemaVersion != 1) fail("benchmark.json schemaVersion " + bench.schemaVersion)
if (!(bench.system instanceof Map) || !bench.system.cpuModel) fail("benchmark.json has no system.cpuModel")
if (!(bench.models instanceof List) || bench.models.size() != 1) fail("benchmark.json models: " + bench.models)
def m = bench.models[0]
['name', 'params', 'bytes', 'flopsPerToken', 'prefillTokensPerSec', 'decodeTokensPerSec', 'latencyP50Ms',
 'latencyP95Ms', 'peakRssBytes', 'perplexity', 'bitsPerByte'].each {
  if (!m.containsKey(it)) fail("benchmark.json models[0] lacks the documented key " + it)
}
if (m.name != 'it') fail("models[0].name " + m.name)
['params', 'bytes', 'prefillTokensPerSec', 'decodeTokensPerSec', 'perplexity', 'bitsPerByte'].each {
  if (!(m[it] instanceof Number) || !(m[it] > 0)) fail("models[0]." + it + " = " + m[it])
}
if (m.promptTokens != 8 || m.decodeTokens != 8 || m.measuredRounds != 1 || m.warmupRounds != 0) {
  fail("models[0] does not echo the configured shape: " + m.subMap(['promptTokens', 'decodeTokens', 'measuredRounds', 'warmupRounds']))
}
if (m.latencyP50Ms > m.latencyP95Ms) fail("p50 " + m.latencyP50Ms + " above p95 " + m.latencyP95Ms)
if (!(bench.kernels instanceof List) || bench.kernels.isEmpty()) fail("benchmark.json has no kernels")
if (!(bench.roofline instanceof Map) || !(bench.roofline.peakGflops > 0)) fail("benchmark.json roofline: " + bench.roofline)

// report: markdown, self-contained HTML, every chart a PNG
def md = file('report.md').getText('UTF-8')
def html = file('report.html').getText('UTF-8')
if (!md.startsWith('# IT report')) fail("report.md does not start with the configured title")
byte[] pngMagic = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] as byte[]
['loss.png', 'size-vs-perplexity.png', 'throughput.png', 'roofline.png', 'expert-load.png'].each { c ->
  def f = file('charts/' + c)
  byte[] head = new byte[8]
  f.withInputStream { it.read(head) }
  if (head != pngMagic) fail("charts/" + c + " is not a PNG")
  if (!md.contains('charts/' + c)) fail("report.md does not link charts/" + c)
}
if ((html =~ /src="data:image\/png;base64,/).count != 5) fail("report.html should embed the 5 charts")
if (html.contains('src="charts/')) fail("report.html links a chart file instead of embedding it")
if (!log.contains('Report: ')) fail("no report summary line in build.log")
return true
