package dev.iteralite.bench;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.data.TokenFile;
import dev.iteralite.data.TokenFiles;
import dev.iteralite.data.WikiText;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.eval.LanguageModel;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.BpeTrainer;
import dev.iteralite.tokenizer.Tokenizer;
import dev.iteralite.tokenizer.Tokenizers;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import dev.iteralite.train.TrainingResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The issue-4 comparison: Itera-Lite against the Transformer baseline at (nearly) equal parameter
 * count and equal training tokens on WikiText-2, both trained by the same {@link Trainer}, then
 * word-level test perplexity, bits per byte, training tokens/s and decode tokens/s at two contexts.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.iteralite.bench.ModelComparison \
 *     --data ../shared/data/wikitext-2 --out target/comparison --preset tiny --tokens 12000000 \
 *     --models itera-lite,transformer [--threads 2] [--minutes 30]
 * </pre>
 *
 * Both models see the same BPE-4096 tokenizer (trained on the train split), the same batches (same
 * seed, batch 8 x 256) and the same schedule; one Markdown row per model is printed and appended
 * to {@code OUT/comparison.md}. Run the models one after the other on an otherwise idle machine
 * (or concurrently with {@code --threads 1} each, which shares the cores evenly).
 */
public final class ModelComparison {
  private ModelComparison() {}

  public static void main(String[] args) throws IOException {
    Path data = Path.of(arg(args, "--data", "../shared/data/wikitext-2"));
    Path out = Path.of(arg(args, "--out", "target/comparison"));
    String preset = arg(args, "--preset", "tiny");
    long tokens = Long.parseLong(arg(args, "--tokens", "12000000"));
    double minutes = Double.parseDouble(arg(args, "--minutes", "30"));
    int threads = Integer.parseInt(arg(args, "--threads", "0"));
    double lr = Double.parseDouble(arg(args, "--lr", "3e-3"));
    List<String> models = Arrays.asList(arg(args, "--models", "itera-lite,transformer").split(","));
    Files.createDirectories(out);

    Backend backend = Backends.select();
    if (threads > 0 && backend instanceof CpuBackend cpu) {
      cpu.setThreads(threads);
    }
    Tokenizer tokenizer = tokenizer(data, out);
    TokenFile train = tokens(data, out, "train", tokenizer);
    TokenFile valid = tokens(data, out, "valid", tokenizer);
    TokenFile test = tokens(data, out, "test", tokenizer);
    long testWords = WikiText.read(data.resolve("test.txt")).wordCount();
    int vocab = tokenizer.vocabSize();

    for (String name : models) {
      try (CausalLm model = create(name.trim(), preset, vocab, backend)) {
        int batch = 8;
        int seqLen = 256;
        TrainingConfig config = TrainingConfig.builder()
            .seed(1234)
            .batchSize(batch)
            .seqLen(seqLen)
            .peakLr(lr)
            .warmupSteps(Math.min(200, tokens / ((long) batch * seqLen) / 10))
            .tokenBudget(tokens)
            .lrFloorFraction(0.1)
            .evalEvery(500)
            .evalBatches(16)
            .checkpointEvery(1000)
            .checkpointDir(out.resolve(name + "-" + preset))
            .metricsCsv(out.resolve(name + "-" + preset + ".csv"))
            .maxMinutes(minutes)
            .build();
        System.out.printf(Locale.ROOT, "%s %s: %,d parameters, %s%n", name, preset, model.parameters().parameterCount(), model.config());
        TrainingResult result;
        try (Trainer trainer = new Trainer(model, config, train, valid).tokenizer(tokenizer)
            .listener(progressPrinter(name))) {
          result = trainer.run();
        }
        double trainTokPerSec = result.tokensSeen() / result.elapsedSeconds();
        Evaluator evaluator = new Evaluator(seqLen, batch);
        EvalResult eval = evaluator.evaluate(LanguageModel.of(model), test, testWords);
        double decode256 = decodeTokensPerSecond(model, 256, vocab);
        double decode1024 = decodeTokensPerSecond(model, 1024, vocab);
        String row = String.format(Locale.ROOT, "| %s %s | %,d | %,d | %.1f | %.1f | %.3f | %.0f | %.0f | %.0f | %s |",
            name, preset, model.parameters().parameterCount(), result.tokensSeen(), result.elapsedSeconds() / 60,
            eval.wordPerplexity(), eval.bitsPerByte(), trainTokPerSec, decode256, decode1024, result.stopReason());
        System.out.println("| model | params | train tokens | minutes | test word ppl | bits/byte | train tok/s | decode tok/s @256 | decode tok/s @1024 | stop |");
        System.out.println(row);
        Files.writeString(out.resolve("comparison.md"), row + System.lineSeparator(), StandardCharsets.UTF_8,
            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
      }
    }
  }

  private static CausalLm create(String name, String preset, int vocab, Backend backend) {
    boolean small = preset.equals("small");
    return switch (name) {
      case "itera-lite" -> new IteraLiteModel(backend, small ? IteraLiteConfig.small(vocab) : IteraLiteConfig.tiny(vocab), DType.F32, 1);
      case "transformer" -> {
        TransformerConfig c = small ? TransformerConfig.small(vocab) : TransformerConfig.tiny(vocab);
        // 1024 context plus the timed decode steps; RoPE has no learned positions, so this only sizes the cache
        TransformerConfig longer = new TransformerConfig(c.dim(), c.hiddenDim(), c.nLayers(), c.nHeads(), c.nKvHeads(),
            c.vocabSize(), 1024 + 128, c.sharedClassifier());
        yield new TransformerModel(backend, longer, DType.F32, 1);
      }
      default -> throw new IllegalArgumentException("--models: unknown model '" + name + "' (itera-lite or transformer)");
    };
  }

  /** Median-free steady rate: prefill {@code context} random tokens, then time 128 decode steps. */
  private static double decodeTokensPerSecond(CausalLm model, int context, int vocab) {
    SplittableRandom random = new SplittableRandom(7);
    int[] prompt = new int[context];
    for (int i = 0; i < context; i++) {
      prompt[i] = random.nextInt(vocab);
    }
    int steps = 128;
    double best = 0;
    try (DecodeSession session = model.newSession()) {
      for (int round = 0; round < 3; round++) {
        float[] logits = session.prefill(prompt);
        long start = System.nanoTime();
        for (int s = 0; s < steps; s++) {
          logits = session.step(argmax(logits));
        }
        best = Math.max(best, steps / ((System.nanoTime() - start) / 1e9));
      }
    }
    return best;
  }

  private static int argmax(float[] v) {
    int best = 0;
    for (int i = 1; i < v.length; i++) {
      if (v[i] > v[best]) {
        best = i;
      }
    }
    return best;
  }

  private static Tokenizer tokenizer(Path data, Path out) throws IOException {
    Path file = out.resolve("bpe-4096.tok");
    if (Files.exists(file)) {
      return Tokenizers.load(file);
    }
    Tokenizer t = BpeTrainer.train(data.resolve("train.txt"), 4096);
    Tokenizers.save(t, file);
    return t;
  }

  private static TokenFile tokens(Path data, Path out, String split, Tokenizer tokenizer) throws IOException {
    Path file = out.resolve(split + ".tokens");
    if (Files.exists(file)) {
      return TokenFile.open(file);
    }
    return TokenFiles.tokenizeFile(data.resolve(split + ".txt"), tokenizer, file);
  }

  private static dev.iteralite.train.TrainingListener progressPrinter(String name) {
    return new dev.iteralite.train.TrainingListener() {
      @Override
      public void onStep(StepReport r) {
        if (r.step() % 100 == 0 || r.step() == r.totalSteps()) {
          System.out.printf(Locale.ROOT, "%s step %d/%d  tokens %,d  lr %.2e  loss %.4f  aux %.4f  |g| %.3f  %.0f tok/s  eta %.0f s%n",
              name, r.step(), r.totalSteps(), r.tokensSeen(), r.learningRate(), r.trainLoss(), r.auxLoss(), r.gradNorm(),
              r.tokensPerSecond(), r.etaSeconds());
        }
      }

      @Override
      public void onEvaluation(long step, double valLoss, boolean improved) {
        System.out.printf(Locale.ROOT, "%s step %d  val loss %.4f%s%n", name, step, valLoss, improved ? "  (best)" : "");
      }
    };
  }

  private static String arg(String[] args, String key, String fallback) {
    List<String> list = new ArrayList<>(Arrays.asList(args));
    int i = list.indexOf(key);
    if (i < 0) {
      return fallback;
    }
    if (i + 1 >= list.size()) {
      throw new IllegalArgumentException(key + " needs a value");
    }
    return list.get(i + 1);
  }
}
