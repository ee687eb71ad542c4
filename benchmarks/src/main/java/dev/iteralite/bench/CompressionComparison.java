package dev.iteralite.bench;

import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.compress.CompressionReport;
import dev.iteralite.data.TokenFile;
import dev.iteralite.data.TokenFiles;
import dev.iteralite.data.WikiText;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.quant.WeightFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * Every weight format of a trained Itera-Lite checkpoint in one run, through {@link
 * CompressionReport}: each format is quantised ({@link QuantizedModel}) and saved as a compressed
 * checkpoint, then the table gives bytes on disk, bits per weight, WikiText-2 test perplexity (per
 * token and word level, scored with the compressed weights) on the first {@code --windows} windows
 * of 256 tokens with its change against F32, and prefill / decode tokens/s with the speed-ups. The
 * Markdown table goes to standard output, and to {@code --markdown} / {@code --json} when given.
 *
 * <pre>
 * java -cp benchmarks/target/benchmarks.jar dev.iteralite.bench.CompressionComparison \
 *     --checkpoint target/comparison/itera-lite-tiny --data ../shared/data/wikitext-2 [--windows 64] [--threads 2] \
 *     [--json target/comparison/compression.json] [--markdown target/comparison/compression.md]
 * </pre>
 */
public final class CompressionComparison {
  private CompressionComparison() {}

  public static void main(String[] args) throws IOException {
    Path checkpoint = Path.of(arg(args, "--checkpoint", "target/comparison/itera-lite-tiny"));
    Path data = Path.of(arg(args, "--data", "../shared/data/wikitext-2"));
    int windows = Integer.parseInt(arg(args, "--windows", "64"));
    int threads = Integer.parseInt(arg(args, "--threads", "0"));
    String json = arg(args, "--json", null);
    String markdown = arg(args, "--markdown", null);
    if (threads > 0) {
      Backends.cpu().setThreads(threads);
    }
    int window = 256;
    try (IteraLite.LoadedModel loaded = IteraLite.load(checkpoint, Backends.cpu())) {
      if (!(loaded.model() instanceof IteraLiteModel model)) {
        throw new IllegalArgumentException("--checkpoint must hold an F32 Itera-Lite model, got " + loaded.model().architecture());
      }
      Path work = Files.createTempDirectory("itera-compression");
      List<QuantizedModel> variants = new ArrayList<>();
      try {
        Path tokens = work.resolve("test.tokens");
        TokenFile test = TokenFiles.tokenizeFile(data.resolve("test.txt"), loaded.tokenizer(), tokens);
        WikiText text = WikiText.read(data.resolve("test.txt"));
        int used = (int) Math.min(test.size() - 1, (long) windows * window);
        windows = Math.max(1, used / window);
        used = windows * window;
        int[] ids = new int[used + 1];
        test.read(0, ids, 0, ids.length);
        // words and bytes of the scored prefix, in proportion to its share of the tokens
        double share = (double) used / (test.size() - 1);
        CompressionReport.Builder b = CompressionReport.builder().evaluationTokens(ids)
            .words(Math.round(text.wordCount() * share)).textBytes(Math.round(test.sourceBytes() * share))
            .windows(windows, window).decode(128, 256, 3).progress(System.err::println)
            .baseline("f32", model, Checkpoint.resolve(checkpoint, Checkpoint.Which.LAST));
        for (WeightFormat f : new WeightFormat[] {WeightFormat.BF16, WeightFormat.F16, WeightFormat.Q8_0,
            WeightFormat.INT8, WeightFormat.Q4_0, WeightFormat.INT4_G32, WeightFormat.NF4}) {
          QuantizedModel q = QuantizedModel.quantize(model, f);
          variants.add(q);
          Path dir = Checkpoint.save(work.resolve(f.id()), q, loaded.tokenizer());
          b.variant(f.id(), "quantisation", q, dir);
        }
        CompressionReport.Result r = b.build().run();
        System.out.print(r.toMarkdown());
        System.out.printf(Locale.ROOT, "(%,d test tokens in %d windows of %d, %s threads, %s)%n", used, windows, window,
            ((CpuBackend) model.backend()).threads(), checkpoint);
        if (json != null) {
          r.writeJson(Path.of(json));
        }
        if (markdown != null) {
          r.writeMarkdown(Path.of(markdown));
        }
      } finally {
        for (QuantizedModel q : variants) {
          q.close();
        }
        deleteTree(work);
      }
    }
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> s = Files.walk(root)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
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
