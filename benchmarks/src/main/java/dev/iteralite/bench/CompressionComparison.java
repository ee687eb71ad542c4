package dev.iteralite.bench;

import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.data.TokenFile;
import dev.iteralite.data.TokenFiles;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.data.WikiText;
import dev.iteralite.eval.EvalResult;
import dev.iteralite.eval.Evaluator;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Every weight format of a trained Itera-Lite checkpoint in one run: stored bytes, bits per weight,
 * WikiText-2 test perplexity (word level and per token) on the first {@code --windows} windows of
 * 256 tokens, and decode tokens/s with the speed-up against F32, all through the same
 * token-by-token compressed decoding path ({@link QuantizedModel}).
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.iteralite.bench.CompressionComparison \
 *     --checkpoint target/comparison/itera-lite-tiny --data ../shared/data/wikitext-2 [--windows 64] [--threads 2]
 * </pre>
 */
public final class CompressionComparison {
  private CompressionComparison() {}

  public static void main(String[] args) throws IOException {
    Path checkpoint = Path.of(arg(args, "--checkpoint", "target/comparison/itera-lite-tiny"));
    Path data = Path.of(arg(args, "--data", "../shared/data/wikitext-2"));
    int windows = Integer.parseInt(arg(args, "--windows", "64"));
    int threads = Integer.parseInt(arg(args, "--threads", "0"));
    if (threads > 0) {
      Backends.cpu().setThreads(threads);
    }
    try (IteraLite.LoadedModel loaded = IteraLite.load(checkpoint, Backends.cpu())) {
      if (!(loaded.model() instanceof IteraLiteModel model)) {
        throw new IllegalArgumentException("--checkpoint must hold an Itera-Lite model, got " + loaded.model().architecture());
      }
      Path tokens = Files.createTempFile("itera-test", ".tokens");
      try {
        TokenFile test = TokenFiles.tokenizeFile(data.resolve("test.txt"), loaded.tokenizer(), tokens);
        WikiText text = WikiText.read(data.resolve("test.txt"));
        int window = 256;
        long used = Math.min(test.size() - 1, (long) windows * window);
        // words and bytes of the scored prefix, in proportion to its share of the tokens
        double share = (double) used / (test.size() - 1);
        long words = Math.round(text.wordCount() * share);
        long bytes = Math.round(test.sourceBytes() * share);
        TokenSequence prefix = slice(test, used + 1);
        System.out.println("| format | bytes | bits/weight | test word ppl | ppl/token | Δ word ppl | decode tok/s | speed-up |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        double basePpl = 0;
        double baseDecode = 0;
        for (WeightFormat f : new WeightFormat[] {WeightFormat.F32, WeightFormat.BF16, WeightFormat.F16, WeightFormat.Q8_0,
            WeightFormat.INT8, WeightFormat.Q4_0, WeightFormat.INT4_G32, WeightFormat.NF4}) {
          try (QuantizedModel q = QuantizedModel.quantize(model, f)) {
            EvalResult r = new Evaluator(window, 8).evaluate(q.languageModel(), prefix, bytes, words);
            double decode = decodeTokensPerSecond(q, model.config().vocabSize());
            if (f == WeightFormat.F32) {
              basePpl = r.wordPerplexity();
              baseDecode = decode;
            }
            System.out.printf(Locale.ROOT, "| %s | %,d | %.2f | %.1f | %.2f | %+.1f%% | %.0f | %.2fx |%n", f.id(), q.weightBytes(),
                q.bitsPerWeight(), r.wordPerplexity(), r.perplexity(), 100 * (r.wordPerplexity() / basePpl - 1), decode,
                decode / baseDecode);
          }
        }
        System.out.printf(Locale.ROOT, "(%,d test tokens in %d windows of %d, %s threads, %s)%n", used, windows, window,
            ((CpuBackend) model.backend()).threads(), checkpoint);
      } finally {
        Files.deleteIfExists(tokens);
      }
    }
  }

  private static TokenSequence slice(TokenSequence all, long length) {
    return new TokenSequence() {
      @Override
      public long size() {
        return length;
      }

      @Override
      public int get(long index) {
        return all.get(index);
      }

      @Override
      public int vocabSize() {
        return all.vocabSize();
      }
    };
  }

  /** Best of three rounds of 256 greedy steps after an 8-token prompt. */
  private static double decodeTokensPerSecond(QuantizedModel q, int vocab) {
    double best = 0;
    try (DecodeSession s = q.newSession()) {
      for (int round = 0; round < 3; round++) {
        float[] logits = s.prefill(new int[] {1, 2, 3, 4, 5, 6, 7, 8});
        long start = System.nanoTime();
        for (int i = 0; i < 256; i++) {
          int next = 0;
          for (int v = 1; v < vocab; v++) {
            if (logits[v] > logits[next]) {
              next = v;
            }
          }
          logits = s.step(next);
        }
        best = Math.max(best, 256 / ((System.nanoTime() - start) / 1e9));
      }
    }
    return best;
  }

  private static String arg(String[] args, String key, String fallback) {
    int i = Arrays.asList(args).indexOf(key);
    if (i < 0) {
      return fallback;
    }
    if (i + 1 >= args.length) {
      throw new IllegalArgumentException(key + " needs a value");
    }
    return args[i + 1];
  }
}
