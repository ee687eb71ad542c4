// Both builds succeeded and logged one skip line per goal, naming the flag that was set; nothing
// was written under target/itera.
def fail = { String why -> throw new AssertionError(why) }
def log = new File(basedir, 'build.log').getText('UTF-8')
def count = { String s -> log.split(java.util.regex.Pattern.quote(s), -1).length - 1 }

def goals = ['train', 'evaluate', 'generate', 'benchmark', 'report', 'serve']
goals.each { g ->
  def global = "Skipping itera:" + g + " (itera.skip is set)"
  if (count(global) != 1) fail("expected one '" + global + "' (build 1), found " + count(global))
  def own = "Skipping itera:" + g + " (itera." + g + ".skip is set)"
  if (count(own) != 1) fail("expected one '" + own + "' (build 2), found " + count(own))
}
if (count('BUILD SUCCESS') != 2) fail("expected 2 successful builds")
if (log.contains('Itera-Lite backend:')) fail("a goal started a backend")
if (new File(basedir, 'target/itera').exists()) fail("target/itera was created by a skipped goal")
return true
