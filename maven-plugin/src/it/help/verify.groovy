// The help goal described the train goal and its parameters, with the user properties the README
// and PropertyNames promise.
def fail = { String why -> throw new AssertionError(why) }
def log = new File(basedir, 'build.log').getText('UTF-8')
['itera:train', 'corpus', 'User property: itera.train.corpus', 'User property: itera.train.steps',
 'User property: itera.train.force', 'User property: itera.skip', 'User property: itera.train.skip'].each {
  if (!log.contains(it)) fail("itera:help -Ddetail -Dgoal=train does not mention '" + it + "'")
}
if (log.contains('itera:evaluate')) fail("-Dgoal=train also described itera:evaluate")
return true
