// Each of the three builds failed with a build error whose message names the XML element, the bad
// value and the fix, before any model was built or any output written.
def fail = { String why -> throw new AssertionError(why) }
def log = new File(basedir, 'build.log').getText('UTF-8')
def errors = log.readLines().findAll { it.startsWith('[ERROR] Failed to execute goal') }
def expect = { String execution, List<String> parts ->
  def line = errors.find { it.contains('(' + execution + ')') }
  if (line == null) fail("no failure reported for execution " + execution)
  parts.each { if (!line.contains(it)) fail(execution + ": the message lacks '" + it + "': " + line) }
}
expect('train-negative-steps', ['on project bad-config: <steps>: ', '-5', 'set <steps> (-Ditera.train.steps=...) to an allowed value'])
expect('train-unknown-architecture', ["<architecture>: 'rwkv' is not an architecture; use itera-lite or transformer (-Ditera.train.architecture=itera-lite)"])
expect('benchmark-bad-model', ["<models/model[2]/preset>: 'tinny' is not a preset; use <preset>tiny</preset> or <preset>small</preset>"])
if (errors.size() != 3) fail("expected 3 failed builds, found " + errors.size())
if (log.contains('Itera-Lite backend:')) fail("a backend was started before the configuration was checked")
if (new File(basedir, 'target/itera').exists()) fail("a misconfigured goal wrote target/itera")
return true
