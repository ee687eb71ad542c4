// Build 1 trained, build 2 skipped as up to date (same inputs hash), build 3 was forced and retrained.
def fail = { String why -> throw new AssertionError(why) }
def log = new File(basedir, 'build.log').getText('UTF-8')
def count = { String s -> log.split(java.util.regex.Pattern.quote(s), -1).length - 1 }

def trained = count("Trained 'upd': 2 steps")
if (trained != 2) fail("expected 2 training runs (builds 1 and 3), found " + trained)
def upToDate = log.findAll(/Model 'upd' is up to date \(inputs ([0-9a-f]{12})\), skipping training; -Ditera\.train\.force=true retrains/)
if (upToDate.size() != 1) fail("expected exactly one up-to-date skip (build 2), found " + upToDate.size())
if (count('BUILD SUCCESS') != 3) fail("expected 3 successful builds")
// The order proves the skip came from build 2: train, skip, train.
int first = log.indexOf("Trained 'upd'")
int skip = log.indexOf("Model 'upd' is up to date")
int last = log.lastIndexOf("Trained 'upd'")
if (!(first < skip && skip < last)) fail("trained / skipped / trained are out of order")

// The stamp is the hash logged by the skip, and the forced run left a complete checkpoint.
def root = new File(basedir, 'target/itera/checkpoints/upd')
def stamp = new File(root, 'itera-train.sha256').text.trim()
def logged = (upToDate[0] =~ /inputs ([0-9a-f]{12})/)[0][1]
if (!stamp.startsWith(logged)) fail("stamp " + stamp + " does not match the logged inputs hash " + logged)
if (new File(root, 'LAST').text.trim() != 'step-00000002') fail("LAST is not step-00000002")
if (new File(root, 'metrics.csv').readLines().findAll { it.trim() }.size() != 3) fail("metrics.csv is not header + 2 rows")
return true
