package dev.iteralite.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.logging.SystemStreamLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The train, evaluate and report goals without Maven: configuration errors name the XML element and
 * the fix, the up-to-date hash changes exactly when an input does, and one tiny real run goes
 * train → up-to-date skip → evaluate (gate fails with the element and the measured value) → report.
 */
class TrainEvaluateReportMojoTest {
  @TempDir Path dir;

  /** Captures what a goal logs. */
  static final class Captured extends SystemStreamLog {
    final List<String> lines = new ArrayList<>();

    @Override
    public void info(CharSequence content) {
      lines.add(content.toString());
      super.info(content);
    }

    @Override
    public void warn(CharSequence content) {
      lines.add("WARN " + content);
      super.warn(content);
    }
  }

  Path corpus() throws Exception {
    return corpus(dir);
  }

  /** A small repetitive English corpus in {@code dir}/corpus.txt (the plugin tests share it). */
  static Path corpus(Path dir) throws Exception {
    Path f = dir.resolve("corpus.txt");
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 200; i++) {
      b.append("The quick brown fox jumps over the lazy dog number ").append(i % 17).append(".\n");
    }
    Files.writeString(f, b);
    return f;
  }

  /** A train goal with the defaults Maven would inject. */
  TrainMojo train() {
    TrainMojo m = new TrainMojo();
    m.seed = 42;
    m.name = "model";
    m.checkpointsDirectory = dir.resolve("target/itera/checkpoints").toFile();
    m.validationFraction = 0.1;
    m.tokenizer = "byte";
    m.bpeMerges = 256;
    m.wordVocabSize = 16384;
    m.architecture = "itera-lite";
    m.logEvery = 10;
    return m;
  }

  EvaluateMojo evaluate() {
    EvaluateMojo m = new EvaluateMojo();
    m.seed = 42;
    m.name = "model";
    m.checkpointsDirectory = dir.resolve("target/itera/checkpoints").toFile();
    m.which = "best";
    m.split = "test";
    m.windowLength = 256;
    m.batchSize = 8;
    m.haltOnFailure = true;
    m.output = dir.resolve("target/itera/evaluation.json").toFile();
    return m;
  }

  static String problem(AbstractIteraMojo m) {
    return assertThrows(MojoExecutionException.class, m::validate).getMessage();
  }

  @Test
  void trainConfigurationErrorsNameTheElement() throws Exception {
    TrainMojo m = train();
    assertTrue(problem(m).startsWith("<corpus>: no training data; set either <corpus>"), problem(m));

    m.corpus = List.of(dir.resolve("absent.txt").toFile());
    assertTrue(problem(m).startsWith("<corpus>: file ") && problem(m).contains("absent.txt"), problem(m));

    m.corpus = List.of(corpus().toFile());
    m.wikiText = dir.toFile();
    assertTrue(problem(m).startsWith("<corpus>: both <corpus> and <wikiText> are set"), problem(m));

    m = train();
    m.wikiText = dir.toFile();
    assertTrue(problem(m).startsWith("<wikiText>: ") && problem(m).contains("train.txt"), problem(m));

    m = train();
    m.corpus = List.of(corpus().toFile());
    m.validate();

    m.tokenizer = "sentencepiece";
    assertTrue(problem(m).startsWith("<tokenizer>: 'sentencepiece' is not a tokenizer; use byte, bpe or word"), problem(m));
    m.tokenizer = "bpe";
    m.bpeMerges = 0;
    assertTrue(problem(m).startsWith("<bpeMerges>: must be >= 1"), problem(m));
    m.tokenizer = "byte";

    m.architecture = "rwkv";
    assertTrue(problem(m).startsWith("<architecture>: 'rwkv'"), problem(m));
    m.architecture = "transformer";
    m.validate();

    m.preset = "huge";
    assertTrue(problem(m).startsWith("<preset>: 'huge' is not a preset"), problem(m));
    m.preset = "tiny";
    m.modelConfig = dir.resolve("model.json").toFile();
    assertTrue(problem(m).startsWith("<modelConfig>: both <modelConfig> and <preset>"), problem(m));
    m.preset = null;
    assertTrue(problem(m).startsWith("<modelConfig>: file "), problem(m));
    m.modelConfig = null;

    m.checkpoint = dir.toFile();
    assertTrue(problem(m).startsWith("<checkpoint>: the train goal builds a new model"), problem(m));
    m.checkpoint = null;

    m.name = "../escape";
    assertTrue(problem(m).startsWith("<name>: '../escape' is not a usable model name"), problem(m));
    m.name = "model";

    m.steps = 10L;
    m.warmupSteps = 10L;
    assertTrue(problem(m).startsWith("<warmupSteps>: "), problem(m));
    m.warmupSteps = null;
    m.batchSize = 0;
    assertTrue(problem(m).startsWith("<batchSize>: "), problem(m));
    m.batchSize = null;
    m.peakLr = -1.0;
    assertTrue(problem(m).startsWith("<peakLr>: "), problem(m));
    m.peakLr = null;

    Path cfg = dir.resolve("train.json");
    Files.writeString(cfg, "{\"batchSize\": 2, \"seqLen\": 16, \"totalSteps\": 5, \"warmupSteps\": 1}");
    m.trainingConfig = cfg.toFile();
    assertTrue(problem(m).startsWith("<steps>: is set together with <trainingConfig>"), problem(m));
    m.steps = null;
    m.validate();
    assertEquals(5, m.resolveTrainingConfig().totalSteps());
    assertEquals(m.outputDirectory(), m.resolveTrainingConfig().checkpointDir());
    Files.writeString(cfg, "{\"batchSize\": 2, \"nonsense\": 1}");
    assertTrue(problem(m).startsWith("<trainingConfig>: cannot use "), problem(m));

    m.trainingConfig = null;
    m.logEvery = 0;
    assertTrue(problem(m).startsWith("<logEvery>: must be >= 1"), problem(m));
  }

  @Test
  void upToDateHashChangesExactlyWithItsInputs() throws Exception {
    Path a = dir.resolve("a.txt");
    Path b = dir.resolve("b.txt");
    Files.writeString(a, "alpha text\n");
    Files.writeString(b, "beta text\n");
    Map<String, String> s = new LinkedHashMap<>();
    s.put("tokenizer", "byte");
    s.put("training", "{\"steps\": 10}");
    String h = TrainStamp.compute("0.1.0", s, List.of(a, b));
    assertEquals(64, h.length());

    Map<String, String> reordered = new LinkedHashMap<>();
    reordered.put("training", "{\"steps\": 10}");
    reordered.put("tokenizer", "byte");
    assertEquals(h, TrainStamp.compute("0.1.0", reordered, List.of(a, b)), "settings order is irrelevant");

    assertNotEquals(h, TrainStamp.compute("0.1.1", s, List.of(a, b)), "library version");
    assertNotEquals(h, TrainStamp.compute("0.1.0", Map.of("tokenizer", "bpe:256", "training", "{\"steps\": 10}"),
        List.of(a, b)), "a setting");
    assertNotEquals(h, TrainStamp.compute("0.1.0", s, List.of(b, a)), "file order changes the corpus");
    Files.writeString(b, "beta texT\n");
    assertNotEquals(h, TrainStamp.compute("0.1.0", s, List.of(a, b)), "one byte of data");
    Files.writeString(b, "beta text\n");
    assertEquals(h, TrainStamp.compute("0.1.0", s, List.of(a, b)), "restored data, same hash");

    assertEquals("1.0", TrainStamp.libraryIdentity("1.0", Test.class), "a release is identified by its version");
    assertTrue(TrainStamp.libraryIdentity("1.0-SNAPSHOT", Test.class).matches("1\\.0-SNAPSHOT\\+[0-9a-f]{64}.*"),
        "a snapshot adds the hash of its jar");
    assertTrue(TrainStamp.libraryIdentity("1.0-SNAPSHOT", dev.iteralite.IteraLite.class).matches(
        "1\\.0-SNAPSHOT(\\+[0-9a-f]{64})?\\+native=[0-9a-f]{64}"), "and of the native kernels, which change no class");

    TrainStamp.write(dir.resolve("out"), h);
    assertEquals(h, TrainStamp.read(dir.resolve("out")));
    TrainStamp.delete(dir.resolve("out"));
    assertEquals(null, TrainStamp.read(dir.resolve("out")));

    // Through the goal: the output paths are not hashed, the data and the steps are.
    TrainMojo m = train();
    m.corpus = List.of(a.toFile());
    m.steps = 10L;
    String g = m.inputsHash(m.resolveTrainingConfig());
    m.checkpointsDirectory = dir.resolve("elsewhere").toFile();
    assertEquals(g, m.inputsHash(m.resolveTrainingConfig()));
    m.steps = 11L;
    assertNotEquals(g, m.inputsHash(m.resolveTrainingConfig()));
  }

  @Test
  void textInputSlicesPlainAndGzipAtLineEnds() throws Exception {
    String text = "first line\nsecond line\nthird line\nfourth\n";
    Path plain = dir.resolve("t.txt");
    Files.writeString(plain, text);
    Path gz = dir.resolve("t.txt.gz");
    try (var out = new java.util.zip.GZIPOutputStream(Files.newOutputStream(gz))) {
      out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    for (Path p : List.of(plain, gz)) {
      assertEquals(text, new String(TextInput.read(p, 0, 0)), p.toString());
      assertEquals("first line\nsecond line\n", new String(TextInput.read(p, 0, 25)), "cut back to a line end");
      assertEquals("second line\nthird line\n", new String(TextInput.read(p, 3, 24)), "skips the rest of line 1");
      assertEquals("fourth\n", new String(TextInput.read(p, 30, 0)));
      assertEquals("", new String(TextInput.read(p, 1000, 0)));
      assertEquals(text, new String(TextInput.read(p, 0, text.length())), "exactly the whole file");
    }
  }

  @Test
  void evaluateAndReportConfigurationErrors() throws Exception {
    EvaluateMojo e = evaluate();
    assertTrue(problem(e).startsWith("<name>: there is no checkpoint at "), problem(e));
    Files.createDirectories(dir.resolve("target/itera/checkpoints/model"));
    assertTrue(problem(e).startsWith("<text>: no evaluation text"), problem(e));
    e.text = corpus().toFile();
    e.validate();
    e.maxPerplexity = 0.5;
    assertTrue(problem(e).startsWith("<maxPerplexity>: must be a number >= 1, got 0.5"), problem(e));
    e.maxPerplexity = null;
    e.which = "first";
    assertTrue(problem(e).startsWith("<which>: 'first' is not best or last"), problem(e));
    e.which = "last";
    e.preset = "tiny";
    assertTrue(problem(e).startsWith("<preset>: the evaluate goal evaluates a trained"), problem(e));
    e.preset = null;
    e.text = null;
    e.wikiText = dir.toFile();
    e.split = "train";
    assertTrue(problem(e).startsWith("<split>: 'train' is not a WikiText-2 evaluation split"), problem(e));

    assertEquals(3, EvaluateMojo.plainWords(" one two\nthree "));

    ReportMojo r = new ReportMojo();
    r.outputDirectory = dir.toFile();
    r.title = "t";
    r.chartWidth = 50;
    r.chartHeight = 500;
    MojoExecutionException x = assertThrows(MojoExecutionException.class, r::execute);
    assertTrue(x.getMessage().startsWith("<chartWidth>: must be in [200, 4000] pixels, got 50"), x.getMessage());
  }

  @Test
  void trainSkipEvaluateGateAndReportOnARealTinyRun() throws Exception {
    TrainMojo t = train();
    t.corpus = List.of(corpus().toFile());
    t.steps = 6L;
    t.batchSize = 2;
    t.seqLen = 32;
    t.evalEvery = 3L;
    t.evalBatches = 1;
    t.logEvery = 2;
    t.threads = 1;
    Captured log = new Captured();
    t.setLog(log);
    t.execute();
    Path out = dir.resolve("target/itera/checkpoints/model");
    assertTrue(Files.isRegularFile(out.resolve("metrics.csv")));
    assertTrue(Files.isRegularFile(out.resolve(TrainStamp.FILE)));
    assertTrue(Files.isRegularFile(out.resolve("training-config.json")));
    assertTrue(log.lines.stream().anyMatch(l -> l.matches("step 2/6 \\( 33%\\) loss \\d+\\.\\d{4} lr .* tok/s ETA .*")),
        String.join("\n", log.lines));
    assertFalse(log.lines.stream().anyMatch(l -> l.startsWith("step 3/6")), "one line per logEvery steps");
    assertTrue(log.lines.stream().anyMatch(l -> l.startsWith("step 6/6 (100%)")));

    Captured again = new Captured();
    t.setLog(again);
    t.execute();
    assertTrue(again.lines.stream().anyMatch(l -> l.startsWith("Model 'model' is up to date")), String.join("\n", again.lines));
    t.steps = 7L;
    assertNotEquals(TrainStamp.read(out), t.inputsHash(t.resolveTrainingConfig()), "a changed setting retrains");
    t.steps = 6L;

    EvaluateMojo e = evaluate();
    e.text = corpus().toFile();
    e.maxPerplexity = 1.0001;
    e.setLog(new Captured());
    MojoFailureException f = assertThrows(MojoFailureException.class, e::execute);
    assertTrue(f.getMessage().startsWith("<maxPerplexity> 1.0001 exceeded: measured perplexity "), f.getMessage());
    JsonNode json = new ObjectMapper().readTree(e.output);
    double ppl = json.get("perplexity").asDouble();
    assertTrue(f.getMessage().contains(String.format(java.util.Locale.ROOT, "%.3f", ppl)), f.getMessage());
    assertTrue(ppl > 1 && ppl < 256, "a byte model's perplexity: " + ppl);
    assertFalse(json.get("passed").asBoolean());
    assertTrue(json.get("bitsPerByte").asDouble() > 0);
    e.maxPerplexity = 1000.0;
    e.execute();
    assertTrue(new ObjectMapper().readTree(e.output).get("passed").asBoolean());

    ReportMojo r = new ReportMojo();
    r.name = "model";
    r.checkpointsDirectory = dir.resolve("target/itera/checkpoints").toFile();
    r.benchmark = dir.resolve("target/itera/benchmark.json").toFile();
    r.outputDirectory = dir.resolve("target/itera").toFile();
    r.title = "Itera-Lite report";
    r.chartWidth = 800;
    r.chartHeight = 500;
    Captured rl = new Captured();
    r.setLog(rl);
    r.execute();
    assertTrue(Files.isRegularFile(dir.resolve("target/itera/charts/loss.png")));
    assertTrue(Files.isRegularFile(dir.resolve("target/itera/charts/expert-load.png")));
    assertTrue(rl.lines.stream().anyMatch(l -> l.contains("not in the report: Throughput") && l.contains("benchmark.json")),
        String.join("\n", rl.lines));
    assertTrue(Files.readString(dir.resolve("target/itera/report.md")).contains("Not available"));

    ReportMojo skipped = new ReportMojo();
    skipped.skipReport = true;
    Captured sl = new Captured();
    skipped.setLog(sl);
    skipped.execute();
    assertEquals(List.of("Skipping itera:report (itera.report.skip is set)"), sl.lines);
  }
}
