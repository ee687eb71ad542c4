package dev.iteralite.compress;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.eval.LanguageModel;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tiny byte-level Itera-Lite, briefly trained on a synthetic 20-letter language, against its
 * Q8_0, Q4_0 and vocabulary-trimmed variants, each saved with {@link Checkpoint}: the table's sizes
 * are the files', its ratios and changes follow from them, the perplexities are the ones the
 * compressed (or remapped) models give directly, and the JSON and Markdown outputs are complete.
 */
class CompressionReportTest {
  @TempDir Path dir;

  private static final IteraLiteConfig CONFIG =
      IteraLiteConfig.builder(256, 32, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(64).build();
  private static final int WINDOWS = 4;
  private static final int LENGTH = 32;

  /** Letters 'a'..'t' following a noisy deterministic rule, so a model can learn it. */
  private static int[] text(long seed, int n) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] ids = new int[n];
    int prev = 0;
    for (int i = 0; i < n; i++) {
      prev = r.nextDouble() < 0.1 ? r.nextInt(20) : (prev * 7 + 3) % 20;
      ids[i] = 'a' + prev;
    }
    return ids;
  }

  private static IteraLiteModel trained() {
    IteraLiteModel m = new IteraLiteModel(Backends.cpu(), CONFIG, DType.F32, 3);
    TrainingConfig tc = TrainingConfig.builder().seed(1).batchSize(4).seqLen(32).peakLr(1e-2).warmupSteps(2)
        .totalSteps(40).build();
    try (Trainer t = new Trainer(m, tc, TokenSequence.of(text(1, 8000), 256), null)) {
      t.run();
    }
    return m;
  }

  private static long filesBytes(Path folder) throws IOException {
    try (Stream<Path> s = Files.list(folder)) {
      long total = 0;
      for (Path p : (Iterable<Path>) s::iterator) {
        total += Files.size(p);
      }
      return total;
    }
  }

  @Test
  void everyVariantIsMeasuredFromItsFilesAndCompressedWeights() throws IOException {
    int[] eval = text(99, 600);
    long words = 150;
    long bytes = 600;
    try (IteraLiteModel base = trained();
        QuantizedModel q8 = QuantizedModel.quantize(base, WeightFormat.Q8_0);
        QuantizedModel q4 = QuantizedModel.quantize(base, WeightFormat.Q4_0);
        VocabularyTrimmer.Trimmed trim = VocabularyTrimmer.trim(base, ByteTokenizer.instance(),
            TokenSequence.of(eval, 256), LENGTH)) {
      Path baseDir = Checkpoint.save(dir.resolve("f32"), base, ByteTokenizer.instance());
      Path q8Dir = Checkpoint.save(dir.resolve("q8"), q8, ByteTokenizer.instance());
      Path q4Dir = Checkpoint.save(dir.resolve("q4"), q4, ByteTokenizer.instance());
      Path trimDir = Checkpoint.save(dir.resolve("trim"), trim.model(), trim.tokenizer());
      List<String> progress = new java.util.ArrayList<>();
      CompressionReport.Result r = CompressionReport.builder().evaluationTokens(eval).words(words).textBytes(bytes)
          .windows(WINDOWS, LENGTH).decode(4, 8, 2).progress(progress::add)
          .baseline("fp32", base, dir.resolve("f32")) // a root: its LAST checkpoint is measured
          .variant("q8_0", "quantisation", q8, q8Dir)
          .variant("q4_0", "quantisation", q4, dir.resolve("q4"))
          .variant("trimmed", "vocabulary trimming", trim.model(), trimDir, trim.tokenizer()::fromBaseId)
          .build().run();
      System.out.println(r.toMarkdown());
      assertEquals(List.of("fp32", "q8_0", "q4_0", "trimmed"), r.rows().stream().map(CompressionReport.Row::name).toList());
      assertTrue(progress.stream().anyMatch(l -> l.startsWith("q4_0: evaluating 4 windows of 32")), progress.toString());
      CompressionReport.Row f32 = r.rows().get(0);
      CompressionReport.Row r8 = r.rows().get(1);
      CompressionReport.Row r4 = r.rows().get(2);
      CompressionReport.Row rt = r.rows().get(3);
      Path[] dirs = {baseDir, q8Dir, q4Dir, trimDir};
      for (int i = 0; i < 4; i++) {
        CompressionReport.Row row = r.rows().get(i);
        assertEquals(filesBytes(dirs[i]), row.bytesOnDisk(), row.name() + ": bytes on disk are the checkpoint's files");
        assertEquals(8.0 * Files.size(dirs[i].resolve(Checkpoint.MODEL_FILE)) / row.parameters(), row.bitsPerWeight(),
            1e-12, row.name());
        assertEquals((double) f32.bytesOnDisk() / row.bytesOnDisk(), row.sizeRatio(), 1e-12, row.name());
        assertEquals(row.perplexity() / f32.perplexity() - 1, row.perplexityChange(), 1e-12, row.name());
        assertTrue(row.prefillTokensPerSec() > 0 && row.decodeTokensPerSec() > 0, row.toString());
        assertEquals(row.decodeTokensPerSec() / f32.decodeTokensPerSec(), row.decodeSpeedup(), 1e-12);
        assertEquals(row.prefillTokensPerSec() / f32.prefillTokensPerSec(), row.prefillSpeedup(), 1e-12);
        // word perplexity and bits per byte come from the same NLL, with the counts scaled to the windows' share
        double nll = Math.log(row.perplexity()) * WINDOWS * LENGTH;
        double share = (double) (WINDOWS * LENGTH) / (eval.length - 1);
        assertEquals(nll, Math.log(row.wordPerplexity()) * Math.round(words * share), 1e-9 * nll, row.name());
        assertEquals(nll, row.bitsPerByte() * Math.log(2) * Math.round(bytes * share), 1e-9 * nll, row.name());
      }
      long params = base.parameters().parameterCount();
      assertEquals(params, f32.parameters());
      assertEquals(params, r8.parameters());
      assertEquals(trim.model().parameters().parameterCount(), rt.parameters());
      assertTrue(rt.parameters() < params);
      assertEquals(0.0, f32.perplexityChange());
      assertEquals(1.0, f32.sizeRatio());
      assertEquals(1.0, f32.decodeSpeedup());
      assertEquals("baseline", f32.technique());
      assertTrue(f32.bitsPerWeight() > 32, "F32 weights plus the safetensors header: " + f32.bitsPerWeight());
      assertTrue(r8.bitsPerWeight() < 14 && r4.bitsPerWeight() < r8.bitsPerWeight(), r8 + "\n" + r4);
      assertTrue(r4.sizeRatio() > r8.sizeRatio() && r8.sizeRatio() > 2, r8 + "\n" + r4);
      assertTrue(r4.perplexityChange() >= r8.perplexityChange(), "4 bits lose at least what 8 bits lose: " + r8 + "\n" + r4);
      assertTrue(f32.perplexity() < 15, "the model learned the 20-letter rule: " + f32.perplexity());

      // The perplexities are those of the models themselves: compressed weights, remapped ids.
      int[] used = Arrays.copyOf(eval, WINDOWS * LENGTH + 1);
      Evaluator ev = new Evaluator(LENGTH, 8);
      assertEquals(ev.evaluate(LanguageModel.of(base), TokenSequence.of(used, 256)).perplexity(), f32.perplexity(),
          1e-12 * f32.perplexity());
      assertEquals(ev.evaluate(q4.languageModel(), TokenSequence.of(used, 256)).perplexity(), r4.perplexity(),
          1e-12 * r4.perplexity());
      int[] mapped = Arrays.stream(used).map(trim.tokenizer()::fromBaseId).toArray();
      assertEquals(ev.evaluate(LanguageModel.of(trim.model()), TokenSequence.of(mapped, trim.model().vocabSize()))
          .perplexity(), rt.perplexity(), 1e-12 * rt.perplexity());
      assertTrue(rt.perplexityChange() <= 1e-6, "trimming renormalises over fewer tokens: " + rt);
      assertTrue(r4.perplexity() != f32.perplexity(), "Q4_0 is scored with its own weights");

      // Outputs: JSON round-trips exactly (NaN as null), Markdown has a row per variant.
      Path json = dir.resolve("out/compression.json");
      r.writeJson(json);
      assertEquals(r, CompressionReport.Result.readJson(json));
      assertTrue(r.system().containsKey("cpuModel") && r.system().get("evaluation").contains("4 windows of 32 tokens"),
          r.system().toString());
      Path md = dir.resolve("out/compression.md");
      r.writeMarkdown(md);
      String text = Files.readString(md);
      for (String name : List.of("fp32", "q8_0", "q4_0", "trimmed")) {
        assertEquals(1, text.lines().filter(l -> l.startsWith("| " + name + " |")).count(), name + " in\n" + text);
      }
      try (Stream<Path> s = Files.list(dir.resolve("out"))) {
        assertEquals(2, s.count(), "no temporary files are left behind");
      }
    }
  }

  @Test
  void withoutWordsBytesOrCheckpointsTheFiguresAreNaNAndInMemorySizes() throws IOException {
    int[] eval = text(7, 200);
    try (IteraLiteModel base = new IteraLiteModel(Backends.cpu(), CONFIG, DType.F32, 5);
        QuantizedModel q8 = QuantizedModel.quantize(base, WeightFormat.Q8_0)) {
      CompressionReport.Result r = CompressionReport.builder().evaluationTokens(eval).windows(2, 16).decode(2, 2, 1)
          .baseline("fp32", base, null).variant("q8", "quantisation", q8, null).build().run();
      long params = base.parameters().parameterCount();
      assertEquals(4 * params, r.rows().get(0).bytesOnDisk());
      assertEquals(32.0, r.rows().get(0).bitsPerWeight());
      assertEquals(q8.weightBytes(), r.rows().get(1).bytesOnDisk());
      assertEquals(q8.bitsPerWeight(), r.rows().get(1).bitsPerWeight(), 1e-12);
      assertTrue(Double.isNaN(r.rows().get(1).wordPerplexity()) && Double.isNaN(r.rows().get(1).bitsPerByte()));
      Path json = dir.resolve("c.json");
      r.writeJson(json);
      assertTrue(Files.readString(json).contains("\"wordPerplexity\" : null"));
      assertEquals(r, CompressionReport.Result.readJson(json));
      Files.writeString(json, "{\"schemaVersion\":1,\"models\":[]}");
      IOException e = assertThrows(IOException.class, () -> CompressionReport.Result.readJson(json));
      assertTrue(e.getMessage().contains("'kind'"), e.getMessage());
    }
  }

  @Test
  void badInputsAreRejectedBeforeMeasuring() throws IOException {
    int[] eval = text(7, 200);
    try (IteraLiteModel base = new IteraLiteModel(Backends.cpu(), CONFIG, DType.F32, 5);
        VocabularyTrimmer.Trimmed trim = VocabularyTrimmer.trim(base, ByteTokenizer.instance(),
            TokenSequence.of(eval, 256), 16)) {
      Path trimDir = Checkpoint.save(dir.resolve("trim"), trim.model(), trim.tokenizer());
      assertMessage("no variants", () -> CompressionReport.builder().evaluationTokens(eval).windows(2, 16)
          .baseline("fp32", base, null).build());
      assertMessage("no baseline", () -> CompressionReport.builder().evaluationTokens(eval).windows(2, 16)
          .variant("t", "trim", trim.model(), null, trim.tokenizer()::fromBaseId).build());
      assertMessage("no evaluation tokens", () -> CompressionReport.builder().baseline("fp32", base, null).build());
      assertMessage("need 1601 evaluation tokens", () -> CompressionReport.builder().evaluationTokens(eval)
          .windows(100, 16).baseline("fp32", base, null).variant("t", "trim", trim.model(), null,
              trim.tokenizer()::fromBaseId).build());
      assertMessage("must both be >= 1", () -> CompressionReport.builder().evaluationTokens(eval).windows(0, 16)
          .baseline("fp32", base, null).variant("t", "trim", trim.model(), null).build());
      assertMessage("must all be >= 1", () -> CompressionReport.builder().evaluationTokens(eval).windows(2, 16)
          .decode(4, 0, 1).baseline("fp32", base, null).variant("t", "trim", trim.model(), null).build());
      // without its map the trimmed model cannot read baseline ids ('a' = 97 is beyond its few ids)
      assertMessage("outside 't''s vocabulary [0, " + trim.model().vocabSize() + ")", () -> CompressionReport.builder().evaluationTokens(eval)
          .windows(2, 16).baseline("fp32", base, null).variant("t", "trim", trim.model(), null).build());
      assertMessage("maps evaluation token 0 (baseline id " + eval[0] + ") to " + eval[0], () -> CompressionReport.builder()
          .evaluationTokens(eval).windows(2, 16).baseline("fp32", base, null)
          .variant("t", "trim", trim.model(), null, id -> id).build());
      int[] withUnseen = eval.clone();
      withUnseen[5] = 'z';
      assertMessage("maps evaluation token 5 (baseline id 122) to -1", () -> CompressionReport.builder()
          .evaluationTokens(withUnseen).windows(2, 16).baseline("fp32", base, null)
          .variant("t", "trim", trim.model(), null, trim.tokenizer()::fromBaseId).build());
      int[] negative = eval.clone();
      negative[3] = 300;
      assertMessage("evaluation token 3 is id 300", () -> CompressionReport.builder().evaluationTokens(negative)
          .windows(2, 16).baseline("fp32", base, null).variant("t", "trim", trim.model(), trimDir,
              trim.tokenizer()::fromBaseId).build());
      assertMessage("used twice", () -> CompressionReport.builder().evaluationTokens(eval).windows(2, 16)
          .baseline("x", base, null).variant("x", "trim", trim.model(), null, trim.tokenizer()::fromBaseId).build());
      assertMessage("holds " + trim.model().parameters().parameterCount() + " parameters but the model has "
          + base.parameters().parameterCount(), () -> CompressionReport.builder().evaluationTokens(eval)
          .windows(2, 16).baseline("fp32", base, trimDir)
          .variant("t", "trim", trim.model(), trimDir, trim.tokenizer()::fromBaseId).build());
      assertMessage("is not a readable checkpoint", () -> CompressionReport.builder().evaluationTokens(eval)
          .windows(2, 16).baseline("fp32", base, dir.resolve("nothing-here"))
          .variant("t", "trim", trim.model(), trimDir, trim.tokenizer()::fromBaseId).build());
    }
  }

  private static void assertMessage(String part, org.junit.jupiter.api.function.Executable call) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(part), () -> String.format(Locale.ROOT, "'%s' not in: %s", part, e.getMessage()));
  }
}
