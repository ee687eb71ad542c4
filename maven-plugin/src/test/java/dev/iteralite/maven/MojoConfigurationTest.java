package dev.iteralite.maven;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.bench.EnergyResult;
import dev.iteralite.bench.ModelResult;
import dev.iteralite.bench.Spread;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.apache.maven.plugin.logging.SystemStreamLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The goals' configuration checks (messages name the XML element and the fix), the gates
 * (messages name the element and the measured value) and skipping, without starting Maven.
 */
class MojoConfigurationTest {
  @TempDir Path dir;

  /** A benchmark goal with the defaults Maven would inject. */
  BenchmarkMojo benchmark() {
    BenchmarkMojo m = new BenchmarkMojo();
    m.seed = 42;
    m.output = dir.resolve("target/itera/benchmark.json").toFile();
    m.promptTokens = 128;
    m.decodeTokens = 128;
    m.warmupRounds = 2;
    m.rounds = 5;
    m.evalWindow = 256;
    m.maxEvalTokens = 65536;
    m.kernels = "quick";
    m.haltOnFailure = true;
    return m;
  }

  GenerateMojo generate() {
    GenerateMojo m = new GenerateMojo();
    m.seed = 42;
    m.output = dir.resolve("target/itera/generate.txt").toFile();
    m.prompt = "Once upon a time";
    m.maxNewTokens = 64;
    m.topP = 1f;
    return m;
  }

  static String problem(AbstractIteraMojo m) {
    return assertThrows(MojoExecutionException.class, m::validate).getMessage();
  }

  @Test
  void aModelMustBeConfiguredExactlyOnce() throws Exception {
    BenchmarkMojo m = benchmark();
    String none = problem(m);
    assertTrue(none.startsWith("<preset>: no model is configured"), none);
    assertTrue(none.contains("-Ditera.preset=tiny"), "the fix is spelled out: " + none);

    m.preset = "tiny";
    assertDoesNotThrow(m::validate);
    File ckpt = Files.writeString(dir.resolve("m.bin"), "x").toFile();
    m.llama2cCheckpoint = ckpt;
    String two = problem(m);
    assertTrue(two.startsWith("<llama2cCheckpoint>: more than one model"), two);

    m.preset = null;
    String tok = problem(m);
    assertTrue(tok.startsWith("<llama2cTokenizer>: a llama2.c checkpoint needs its tokenizer"), tok);
    m.llama2cTokenizer = dir.resolve("absent.bin").toFile();
    String absent = problem(m);
    assertTrue(absent.startsWith("<llama2cTokenizer>: file ") && absent.contains("does not exist"), absent);
    m.llama2cTokenizer = ckpt;
    assertDoesNotThrow(m::validate);
  }

  @Test
  void presetAndCheckpointAreChecked() {
    BenchmarkMojo m = benchmark();
    m.preset = "huge";
    String p = problem(m);
    assertTrue(p.startsWith("<preset>: 'huge' is not a preset") && p.contains("<preset>tiny</preset>"), p);
    m.preset = null;
    m.checkpoint = dir.resolve("no-such-run").toFile();
    String c = problem(m);
    assertTrue(c.startsWith("<checkpoint>: ") && c.contains("is not a directory"), c);
    m.checkpoint = null;
    m.preset = "small";
    m.threads = 0;
    String t = problem(m);
    assertTrue(t.startsWith("<threads>: must be >= 1, got 0") && t.contains("leave it unset"), t);
    m.threads = 1;
    assertDoesNotThrow(m::validate);
  }

  @Test
  void benchmarkParametersAreChecked() throws Exception {
    BenchmarkMojo m = benchmark();
    m.preset = "tiny";
    m.rounds = 0;
    String rounds = problem(m);
    assertTrue(rounds.startsWith("<rounds>: measuredRounds must be >= 1, got 0"), rounds);
    assertTrue(rounds.contains("-Ditera.benchmark.rounds="), rounds);
    m.rounds = 5;
    m.promptTokens = 0;
    assertTrue(problem(m).startsWith("<promptTokens>: "));
    m.promptTokens = 16;
    m.kernels = "all";
    String k = problem(m);
    assertTrue(k.startsWith("<kernels>: 'all' is not a kernel suite") && k.contains("none, quick or full"), k);
    m.kernels = "NONE";
    assertDoesNotThrow(m::validate);
    m.maxPerplexity = 20.0;
    String gate = problem(m);
    assertTrue(gate.startsWith("<maxPerplexity>: the perplexity gate needs evaluation text"), gate);
    m.evalText = dir.resolve("absent.txt").toFile();
    assertTrue(problem(m).startsWith("<evalText>: file "));
    m.evalText = Files.writeString(dir.resolve("eval.txt"), "some text").toFile();
    assertDoesNotThrow(m::validate);
    m.maxPerplexity = 0.5;
    assertTrue(problem(m).startsWith("<maxPerplexity>: must be a number >= 1"));
    m.maxPerplexity = null;
    m.minTokensPerSecond = -3.0;
    assertTrue(problem(m).startsWith("<minTokensPerSecond>: must be a positive number"));
  }

  static ModelParameter model(String name, String preset, long seed) {
    ModelParameter p = new ModelParameter();
    p.name = name;
    p.preset = preset;
    p.seed = seed;
    return p;
  }

  @Test
  void modelListsAreCheckedEntryByEntry() {
    BenchmarkMojo m = benchmark();
    m.models = List.of(model("a", "tiny", 1), model(null, "huge", 1));
    String bad = problem(m);
    assertTrue(bad.startsWith("<models/model[2]/preset>: 'huge' is not a preset"), bad);
    m.models = List.of(model("a", "tiny", 1), model("a", "small", 1));
    String dup = problem(m);
    assertTrue(dup.startsWith("<models/model[2]/name>: two models are named 'a'"), dup);
    m.models = List.of(model(null, "tiny", 1), model(null, null, 1));
    assertTrue(problem(m).startsWith("<models/model[2]/preset>: no model is configured"));
    m.models = List.of(model("a", "tiny", 1));
    m.preset = "tiny";
    String both = problem(m);
    assertTrue(both.startsWith("<models>: both <models> and a top-level model element are set"), both);
    m.preset = null;
    assertDoesNotThrow(m::validate);
  }

  @Test
  void severalModelsGoIntoOneReport() throws Exception {
    BenchmarkMojo b = benchmark();
    b.models = List.of(model("seed-1", "tiny", 1), model("seed-2", "tiny", 2));
    b.promptTokens = 4;
    b.decodeTokens = 4;
    b.warmupRounds = 0;
    b.rounds = 1;
    b.kernels = "none";
    b.minTokensPerSecond = 1e12; // no machine decodes this fast: both models fail, one message names both
    b.setLog(quiet());
    MojoFailureException f = assertThrows(MojoFailureException.class, b::execute);
    assertTrue(f.getMessage().contains("'seed-1' decoded") && f.getMessage().contains("'seed-2' decoded"),
        f.getMessage());
    var root = new com.fasterxml.jackson.databind.ObjectMapper().readTree(b.output);
    assertEquals(2, root.get("models").size());
    assertEquals("seed-1", root.get("models").get(0).get("name").asText());
    assertEquals("seed-2", root.get("models").get(1).get("name").asText());
    assertEquals(0, root.get("kernels").size());
    assertTrue(root.get("roofline").isNull());
  }

  @Test
  void gatesNameTheElementAndTheMeasuredValue() {
    BenchmarkMojo m = benchmark();
    ModelResult r = new ModelResult("tiny", "itera-lite", 10, 40, 100, 8, 8, 16, 1, Spread.of(500, 600, 700),
        Spread.of(90, 100, 110), 10, 12, 1, "benchmark", 1, 0.5, 33.5, 4.2, 100,
        EnergyResult.unavailable("powercap not present"));
    assertNull(m.gateFailure(r), "no gate configured");
    m.minTokensPerSecond = 150.0;
    String slow = m.gateFailure(r);
    assertTrue(slow.startsWith("<minTokensPerSecond> gate failed: 'tiny' decoded 100.0 tokens/s"), slow);
    assertTrue(slow.contains("below the required 150.0"), slow);
    m.minTokensPerSecond = 50.0;
    assertNull(m.gateFailure(r));
    m.evalText = new File("valid.txt");
    m.maxPerplexity = 20.0;
    String ppl = m.gateFailure(r);
    assertTrue(ppl.startsWith("<maxPerplexity> gate failed: 'tiny' has perplexity 33.500 on valid.txt (100 tokens)"), ppl);
    m.maxPerplexity = 40.0;
    assertNull(m.gateFailure(r));
    assertTrue(BenchmarkMojo.summary(r).contains("energy: powercap not present"));
  }

  @Test
  void generateParametersAreChecked() {
    GenerateMojo m = generate();
    m.preset = "tiny";
    assertDoesNotThrow(m::validate);
    m.maxNewTokens = 0;
    String n = problem(m);
    assertTrue(n.startsWith("<maxNewTokens>: maxNewTokens must be >= 1") && n.contains("-Ditera.generate.maxNewTokens"), n);
    m.maxNewTokens = 8;
    m.topP = 0f;
    assertTrue(problem(m).startsWith("<topP>: "));
    m.topP = 1f;
    m.temperature = -1f;
    assertTrue(problem(m).startsWith("<temperature>: "));
  }

  @Test
  void skipFlagsLogOneLineAndDoNothing() throws Exception {
    List<String> lines = new ArrayList<>();
    BenchmarkMojo b = benchmark(); // no model configured: running would fail, skipping must not
    b.skipBenchmark = true;
    b.setLog(new SystemStreamLog() {
      @Override
      public void info(CharSequence content) {
        lines.add(content.toString());
      }
    });
    b.execute();
    GenerateMojo g = generate();
    g.skip = true;
    g.setLog(b.getLog());
    g.execute();
    assertEquals(List.of("Skipping itera:benchmark (itera.benchmark.skip is set)",
        "Skipping itera:generate (itera.skip is set)"), lines);
  }

  @Test
  void tinyPresetGeneratesAndBenchmarksEndToEnd() throws Exception {
    GenerateMojo g = generate();
    g.preset = "tiny";
    g.maxNewTokens = 8;
    g.setLog(quiet());
    g.execute();
    String text = Files.readString(g.output.toPath());
    assertTrue(text.startsWith("Once upon a time") && text.length() > "Once upon a time".length(), text);

    BenchmarkMojo b = benchmark();
    b.preset = "tiny";
    b.promptTokens = 8;
    b.decodeTokens = 8;
    b.warmupRounds = 0;
    b.rounds = 2;
    b.kernels = "none";
    b.evalText = Files.writeString(dir.resolve("eval.txt"), "The cat sat on the mat. ".repeat(20)).toFile();
    b.maxPerplexity = 1.01; // a random-init model is far worse: the gate must fail the build
    b.setLog(quiet());
    MojoFailureException f = assertThrows(MojoFailureException.class, b::execute);
    assertTrue(f.getMessage().startsWith("<maxPerplexity> gate failed: 'itera-lite-tiny' has perplexity"), f.getMessage());
    assertTrue(Files.isRegularFile(b.output.toPath()), "the report is written before the gates are applied");
    b.haltOnFailure = false;
    assertDoesNotThrow(b::execute);
  }

  private static SystemStreamLog quiet() {
    return new SystemStreamLog() {
      @Override
      public void info(CharSequence content) {}

      @Override
      public boolean isInfoEnabled() {
        return false;
      }
    };
  }
}
