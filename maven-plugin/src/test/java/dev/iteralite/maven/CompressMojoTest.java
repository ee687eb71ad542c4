package dev.iteralite.maven;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.compress.CompressionReport;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.PrecisionPlan;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.MojoFailureException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The compress goal without Maven: configuration errors name the XML element and the fix, the
 * precision-plan text form, the gate's message, skipping, and one real run on a tiny trained
 * checkpoint (every technique, variants load back, report files, up-to-date skip, gate), followed
 * by the benchmark goal over in-memory quantised variants and a compressed checkpoint.
 */
class CompressMojoTest {
  @TempDir Path dir;

  Path corpus() throws Exception {
    return TrainEvaluateReportMojoTest.corpus(dir);
  }

  /** A compress goal with the defaults Maven would inject. */
  CompressMojo compress() {
    CompressMojo m = new CompressMojo();
    m.seed = 42;
    m.name = "model";
    m.checkpointsDirectory = dir.resolve("target/itera/checkpoints").toFile();
    m.which = "best";
    m.outputDirectory = dir.resolve("target/itera/compressed").toFile();
    m.output = dir.resolve("target/itera/compression.json").toFile();
    m.formats = "q8_0,q4_0";
    m.searchHigh = "q8_0";
    m.searchLow = "q4_0";
    m.calibrationWindows = 8;
    m.calibrationWindowLength = 64;
    m.recoverySteps = 100;
    m.recoveryLr = 3e-4;
    m.distillSteps = 200;
    m.distillAlpha = 0.5;
    m.distillTemperature = 2.0;
    m.split = "test";
    m.windows = 16;
    m.windowLength = 128;
    m.promptTokens = 32;
    m.decodeTokens = 32;
    m.rounds = 3;
    m.haltOnFailure = true;
    return m;
  }

  static String problem(AbstractIteraMojo m) {
    return assertThrows(MojoExecutionException.class, m::validate).getMessage();
  }

  @Test
  void configurationErrorsNameTheElementAndTheFix() throws Exception {
    CompressMojo m = compress();
    assertTrue(problem(m).startsWith("<name>: there is no checkpoint at ") && problem(m).contains("run itera:train"),
        problem(m));
    Files.createDirectories(dir.resolve("target/itera/checkpoints/model"));
    assertTrue(problem(m).startsWith("<text>: no held-out text") && problem(m).contains("-Ditera.evaluate.text="),
        problem(m));
    m.text = corpus().toFile();
    assertDoesNotThrow(m::validate);

    m.preset = "tiny";
    assertTrue(problem(m).startsWith("<preset>: the compress goal compresses a trained"), problem(m));
    m.preset = null;
    m.which = "first";
    assertTrue(problem(m).startsWith("<which>: 'first' is not best or last"), problem(m));
    m.which = "last";

    m.formats = "q8_0, q3";
    String f = problem(m);
    assertTrue(f.startsWith("<formats>: unknown weight format 'q3'; known formats: f32, f16") && f.contains("nf4"), f);
    assertTrue(f.contains("-Ditera.compress.formats=q8_0,q4_0"), f);
    m.formats = "f32";
    assertTrue(problem(m).startsWith("<formats>: f32 is the uncompressed baseline"), problem(m));
    m.formats = "q4_0,q4_0";
    assertTrue(problem(m).startsWith("<formats>: q4_0 is listed twice"), problem(m));
    m.formats = "none";
    assertTrue(problem(m).startsWith("<formats>: no compression is configured"), problem(m));
    m.formats = "NF4 int8";
    assertDoesNotThrow(m::validate);

    m.precisionPlan = "embed\\.weight=q9";
    assertTrue(problem(m).startsWith("<precisionPlan>: rule 'embed\\.weight=q9': unknown weight format 'q9'"), problem(m));
    m.precisionPlan = "([=q4_0";
    assertTrue(problem(m).startsWith("<precisionPlan>: rule pattern '([' is not a regular expression"), problem(m));
    m.precisionPlan = "just text";
    assertTrue(problem(m).startsWith("<precisionPlan>: rule 'just text' is not regex=format; write rules as regex=format"),
        problem(m));
    m.precisionPlan = null;

    m.pruneExperts = 2;
    String c = problem(m);
    assertTrue(c.startsWith("<corpus>: no training text: pruning calibrates and fine-tunes on it")
        && c.contains("-Ditera.train.corpus=train.txt"), c);
    m.corpus = List.of(dir.resolve("absent.txt").toFile());
    assertTrue(problem(m).startsWith("<corpus>: file ") && problem(m).contains("absent.txt"), problem(m));
    m.corpus = List.of(corpus().toFile());
    assertDoesNotThrow(m::validate);
    m.pruneExperts = 0;
    assertTrue(problem(m).startsWith("<pruneExperts>: must be >= 1, got 0")
        && problem(m).contains("-Ditera.compress.pruneExperts="), problem(m));
    m.pruneExperts = null;
    m.recoverySteps = -1;
    assertTrue(problem(m).startsWith("<recoverySteps>: must be >= 0"), problem(m));
    m.recoverySteps = 0;
    m.recoveryLr = 0;
    assertTrue(problem(m).startsWith("<recoveryLr>: must be in (0, 1), got 0.0")
        && problem(m).contains("-Ditera.compress.recoveryLr="), problem(m));
    m.recoveryLr = 3e-4;

    m.targetBits = 40.0;
    assertTrue(problem(m).startsWith("<targetBits>: must be in (0, 32) bits per parameter, got 40.0"), problem(m));
    m.targetBits = 6.0;
    m.searchLow = "f16";
    assertTrue(problem(m).startsWith("<searchLow>: f16 does not store fewer bits than <searchHigh> q8_0"), problem(m));
    m.searchLow = "q4_0";
    m.targetBits = null;

    m.distillDModel = 32;
    m.distillAlpha = 1.5;
    assertTrue(problem(m).startsWith("<distillAlpha>: must be in [0, 1], got 1.5"), problem(m));
    m.distillAlpha = 0.5;
    m.distillDModel = null;

    m.trimVocabulary = true;
    m.vocabularyCorpus = dir.resolve("absent.txt").toFile();
    assertTrue(problem(m).startsWith("<vocabularyCorpus>: file "), problem(m));
    m.vocabularyCorpus = null;

    m.maxPerplexityIncrease = -1.0;
    assertTrue(problem(m).startsWith("<maxPerplexityIncrease>: must be a percentage >= 0, got -1.0"), problem(m));
    m.maxPerplexityIncrease = 5.0;
    m.windows = 0;
    assertTrue(problem(m).startsWith("<windows>: must be >= 1"), problem(m));
    m.windows = 4;
    assertDoesNotThrow(m::validate);
  }

  @Test
  void precisionPlanTextFormParsesRulesAndFallback() throws Exception {
    PrecisionPlan p = CompressMojo.parsePlan("embed\\.weight=int8; .*\\.moe\\..*=q4_0\n *=q8_0 ;");
    assertEquals(WeightFormat.INT8, p.formatOf("embed.weight"));
    assertEquals(WeightFormat.Q4_0, p.formatOf("blocks.1.moe.w1.3"));
    assertEquals(WeightFormat.Q8_0, p.formatOf("blocks.0.mixer.in_proj.weight"));
    assertEquals("q8_0 + 2 rules", p.describe());
    PrecisionPlan noFallback = CompressMojo.parsePlan(".*\\.moe\\..*=nf4");
    assertEquals(WeightFormat.F32, noFallback.formatOf("embed.weight"), "unmatched matrices stay uncompressed");
    assertEquals(WeightFormat.NF4, CompressMojo.parsePlan("a{1,2}=b=nf4").rules().get(0).format(),
        "split at the last '=', so a pattern may hold one");
    assertTrue(assertThrows(ConfigurationProblem.class, () -> CompressMojo.parsePlan("*=q8_0;*=q4_0")).getMessage()
        .startsWith("<precisionPlan>: two fallback rules"));
    assertTrue(assertThrows(ConfigurationProblem.class, () -> CompressMojo.parsePlan("*=f32")).getMessage()
        .startsWith("<precisionPlan>: the plan compresses nothing"));
  }

  static CompressionReport.Row row(String name, double ppl, double change) {
    return new CompressionReport.Row(name, name.equals("model") ? "baseline" : "quantize", 1000, 4000, 32, 1, ppl, change,
        Double.NaN, 2.0, 100, 50, 1, 1);
  }

  @Test
  void gateNamesTheElementTheVariantAndTheMeasuredValue() {
    CompressMojo m = compress();
    CompressionReport.Result r = new CompressionReport.Result(List.of(row("model", 10.0, 0), row("q8_0", 10.1, 0.01),
        row("q4_0", 10.8, 0.08)), Map.of());
    assertEquals(List.of(), m.gateFailures(r, "model", "heldout.txt"), "no gate configured");
    m.maxPerplexityIncrease = 5.0;
    List<String> f = m.gateFailures(r, "model", "heldout.txt");
    assertEquals(1, f.size(), f.toString());
    assertTrue(f.get(0).startsWith("<maxPerplexityIncrease> gate failed: variant 'q4_0' has perplexity 10.800 on "
        + "heldout.txt, +8.00% against the F32 model's 10.000, above the allowed 5.0%"), f.get(0));
    m.maxPerplexityIncrease = 8.5;
    assertEquals(List.of(), m.gateFailures(r, "model", "heldout.txt"));
    m.maxPerplexityIncrease = 0.0;
    assertEquals(2, m.gateFailures(r, "model", "heldout.txt").size());
    assertTrue(m.gateFailure("broken", 10.0, Double.NaN, "t.txt") != null, "a NaN perplexity fails the gate");
    assertNull(m.gateFailure("better", 10.0, 9.0, "t.txt"));
  }

  @Test
  void skipFlagLogsOneLineAndDoesNothing() throws Exception {
    CompressMojo m = compress(); // nothing trained: running would fail, skipping must not
    m.skipCompress = true;
    TrainEvaluateReportMojoTest.Captured log = new TrainEvaluateReportMojoTest.Captured();
    m.setLog(log);
    m.execute();
    assertEquals(List.of("Skipping itera:compress (itera.compress.skip is set)"), log.lines);
    assertTrue(Files.notExists(dir.resolve("target/itera/compressed")));
  }

  @Test
  void compressesATinyTrainedCheckpointThenBenchmarksTheVariants() throws Exception {
    TrainMojo t = new TrainMojo();
    t.seed = 42;
    t.name = "model";
    t.checkpointsDirectory = dir.resolve("target/itera/checkpoints").toFile();
    t.validationFraction = 0.1;
    t.tokenizer = "byte";
    t.architecture = "itera-lite";
    t.corpus = List.of(corpus().toFile());
    t.steps = 6L;
    t.batchSize = 2;
    t.seqLen = 32;
    t.evalEvery = 3L;
    t.evalBatches = 1;
    t.logEvery = 10;
    t.setLog(new TrainEvaluateReportMojoTest.Captured());
    t.execute();

    CompressMojo m = compress();
    Path heldOut = Files.writeString(dir.resolve("heldout.txt"), "The lazy dog jumps over the quick brown fox 3.\n".repeat(8));
    m.text = heldOut.toFile();
    m.corpus = List.of(corpus().toFile());
    m.targetBits = 7.0;
    m.calibrationWindows = 2;
    m.calibrationWindowLength = 16;
    m.pruneExperts = 2;
    m.pruneChannels = 128;
    m.recoverySteps = 2;
    m.distillDModel = 32;
    m.distillLayers = 1;
    m.distillSteps = 2;
    m.trimVocabulary = true;
    m.windows = 2;
    m.windowLength = 32;
    m.promptTokens = 4;
    m.decodeTokens = 4;
    m.rounds = 1;
    m.threads = 1;
    TrainEvaluateReportMojoTest.Captured log = new TrainEvaluateReportMojoTest.Captured();
    m.setLog(log);
    m.execute();

    Path out = dir.resolve("target/itera/compressed");
    List<String> variants = List.of("q8_0", "q4_0", "mixed", "pruned-experts", "pruned-channels", "pruned", "distilled",
        "trimmed-vocab");
    try (Checkpoint.Loaded q8 = Checkpoint.load(out.resolve("q8_0"), Backends.select());
        Checkpoint.Loaded q4 = Checkpoint.load(out.resolve("q4_0"), Backends.select());
        Checkpoint.Loaded mixed = Checkpoint.load(out.resolve("mixed"), Backends.select());
        Checkpoint.Loaded experts = Checkpoint.load(out.resolve("pruned-experts"), Backends.select());
        Checkpoint.Loaded channels = Checkpoint.load(out.resolve("pruned-channels"), Backends.select());
        Checkpoint.Loaded both = Checkpoint.load(out.resolve("pruned"), Backends.select());
        Checkpoint.Loaded student = Checkpoint.load(out.resolve("distilled"), Backends.select());
        Checkpoint.Loaded trimmed = Checkpoint.load(out.resolve("trimmed-vocab"), Backends.select())) {
      assertEquals(WeightFormat.Q8_0, assertInstanceOf(QuantizedModel.class, q8.model()).formatOf("embed.weight"));
      assertEquals(WeightFormat.Q4_0, assertInstanceOf(QuantizedModel.class, q4.model()).formatOf("embed.weight"));
      QuantizedModel mq = assertInstanceOf(QuantizedModel.class, mixed.model());
      assertTrue(mq.bitsPerWeight() <= 7.001, "the search met its size target: " + mq.bitsPerWeight());
      assertEquals(2, ((IteraLiteConfig) experts.model().config()).experts());
      assertEquals(128, ((IteraLiteConfig) channels.model().config()).dInner());
      IteraLiteConfig bothConfig = (IteraLiteConfig) both.model().config();
      assertEquals(2, bothConfig.experts());
      assertEquals(128, bothConfig.dInner());
      assertTrue(both.model().parameters().parameterCount() < Math.min(experts.model().parameters().parameterCount(),
          channels.model().parameters().parameterCount()), "both cuts give the smallest pruned model");
      assertEquals(32, ((IteraLiteConfig) student.model().config()).dModel());
      assertTrue(trimmed.model().vocabSize() < 256 && trimmed.tokenizer().vocabSize() == trimmed.model().vocabSize(),
          "the corpus uses fewer than 256 byte values");
      assertTrue(q8.tokenizer() != null && experts.tokenizer() != null, "variants keep the tokenizer");
    }

    JsonNode json = new ObjectMapper().readTree(m.output);
    JsonNode rows = json.get("rows");
    assertEquals(1 + variants.size(), rows.size(), json.toString());
    assertEquals("model", rows.get(0).get("name").asText());
    // the baseline is the training checkpoint; its optimiser state is not part of the model's size
    double q8Ratio = rows.get(1 + variants.indexOf("q8_0")).get("sizeRatio").asDouble();
    assertTrue(q8Ratio > 2.5 && q8Ratio < 4.5, "q8_0 is about 3.6x smaller than the F32 weights, got " + q8Ratio);
    for (int i = 0; i < variants.size(); i++) {
      assertEquals(variants.get(i), rows.get(i + 1).get("name").asText());
    }
    String md = Files.readString(dir.resolve("target/itera/compression.md"));
    assertTrue(md.contains("q4_0") && md.contains("trimmed-vocab"), md);
    assertTrue(log.lines.stream().anyMatch(l -> l.startsWith("q4_0 ") && l.contains("quantize q4_0")),
        "the table is logged: " + String.join("\n", log.lines));
    assertTrue(Files.isRegularFile(out.resolve(CompressMojo.STAMP_FILE)));

    // Unchanged inputs: nothing is recompressed.
    long modified = Files.getLastModifiedTime(m.output.toPath()).toMillis();
    TrainEvaluateReportMojoTest.Captured again = new TrainEvaluateReportMojoTest.Captured();
    m.setLog(again);
    m.execute();
    assertTrue(again.lines.stream().anyMatch(l -> l.startsWith("Compressed variants of ") && l.contains("are up to date")),
        String.join("\n", again.lines));
    assertEquals(modified, Files.getLastModifiedTime(m.output.toPath()).toMillis());

    // The gate at 0%: it must fail exactly when a measured variant's perplexity rose, naming it.
    m.pruneChannels = null;
    m.pruneExperts = null;
    m.distillDModel = null;
    m.targetBits = null;
    m.trimVocabulary = false;
    m.maxPerplexityIncrease = 0.0;
    m.setLog(new TrainEvaluateReportMojoTest.Captured());
    String worst = null;
    double worstChange = 0;
    JsonNode before = rows;
    for (JsonNode r : before) {
      if ((r.get("name").asText().equals("q8_0") || r.get("name").asText().equals("q4_0"))
          && r.get("perplexityChange").asDouble() > worstChange) {
        worst = r.get("name").asText();
        worstChange = r.get("perplexityChange").asDouble();
      }
    }
    if (worst != null) {
      MojoFailureException f = assertThrows(MojoFailureException.class, m::execute);
      assertTrue(f.getMessage().contains("<maxPerplexityIncrease> gate failed: variant '" + worst + "'"), f.getMessage());
      assertTrue(f.getMessage().contains(String.format(Locale.ROOT, "%+.2f%%", 100 * worstChange)), f.getMessage());
      assertTrue(Files.notExists(out.resolve(CompressMojo.STAMP_FILE)), "a failed gate leaves no stamp");
      assertTrue(Files.notExists(out.resolve("distilled")), "variants no longer configured are removed");
    } else {
      assertDoesNotThrow(m::execute);
    }

    // The benchmark goal: the trained model, its in-memory q8_0 variant and the compressed q4_0 checkpoint.
    BenchmarkMojo b = new BenchmarkMojo();
    b.seed = 42;
    b.output = dir.resolve("target/itera/benchmark.json").toFile();
    ModelParameter trained = new ModelParameter();
    trained.name = "model";
    trained.checkpoint = dir.resolve("target/itera/checkpoints/model").toFile();
    ModelParameter q4 = new ModelParameter();
    q4.name = "model-q4_0-checkpoint";
    q4.checkpoint = out.resolve("q4_0").toFile();
    b.models = List.of(trained, q4);
    b.formats = "q8_0";
    b.promptTokens = 4;
    b.decodeTokens = 4;
    b.warmupRounds = 0;
    b.rounds = 1;
    b.evalWindow = 32;
    b.maxEvalTokens = 256;
    b.evalText = heldOut.toFile();
    b.kernels = "none";
    b.haltOnFailure = true;
    b.setLog(new TrainEvaluateReportMojoTest.Captured());
    MojoExecutionException x = assertThrows(MojoExecutionException.class, b::execute);
    assertTrue(x.getMessage().startsWith("<formats>: model 'model-q4_0-checkpoint' cannot be quantised (it is already "
        + "compressed)"), x.getMessage());
    b.models = List.of(trained);
    b.execute();
    JsonNode models = new ObjectMapper().readTree(b.output).get("models");
    assertEquals(List.of("model", "model-q8_0"), List.of(models.get(0).get("name").asText(), models.get(1).get("name").asText()));
    assertTrue(models.get(1).get("bytes").asLong() * 3 < models.get(0).get("bytes").asLong(),
        "q8_0 counts its compressed bytes: " + models);
    b.models = List.of(q4);
    b.formats = null;
    b.execute();
    JsonNode q4Row = new ObjectMapper().readTree(b.output).get("models").get(0);
    assertTrue(q4Row.get("bytes").asLong() * 5 < models.get(0).get("bytes").asLong(), "a compressed checkpoint: " + q4Row);
    assertTrue(q4Row.get("perplexity").asDouble() > 1, q4Row.toString());
  }
}
