package dev.iteralite.bench;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.generate.Sampler;
import dev.iteralite.model.KvCache;
import dev.iteralite.model.Llama2cCheckpoint;
import dev.iteralite.model.Transformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Greedy decode speed of llama2.c's stories260K (dim 64, 5 layers, 8 heads, 4 KV heads, vocab
 * 512, seq 512) in tokens/s: one invocation decodes {@value #TOKENS} tokens as whole sequences of
 * {@code sequence} tokens from BOS (forward + argmax per token). The issue's
 * target is 35,000 tokens/s on one core. The checkpoint is read from {@code -Ditera.data.dir} or
 * {@code <project root>/../shared/data}; the benchmark fails with a clear message when it is absent.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class Llama2cDecodeBenchmark {
  static final int TOKENS = 1000;

  /** Worker threads for the kernels (1 = the single-core target). */
  @Param({"1", "2"})
  public int threads;

  /**
   * Tokens per sequence: an invocation decodes {@value #TOKENS} / sequence sequences from BOS, so
   * attention spans on average half of it (llama2.c's default run is 256 steps).
   */
  @Param({"250", "500"})
  public int sequence;

  private Llama2cCheckpoint checkpoint;
  private Transformer model;
  private KvCache cache;
  private int sink;

  /** The data folder: {@code -Ditera.data.dir}, else the topmost folder with a pom.xml, then ../shared/data. */
  static Path dataDir() {
    String prop = System.getProperty("itera.data.dir");
    if (prop != null && !prop.isBlank()) {
      return Path.of(prop).toAbsolutePath().normalize();
    }
    Path root = Path.of("").toAbsolutePath();
    for (Path p = root; p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("pom.xml"))) {
        root = p;
      }
    }
    return root.resolve("../shared/data").normalize();
  }

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    Path file = dataDir().resolve("llama2c/stories260K.bin");
    if (!Files.isRegularFile(file)) {
      throw new IllegalStateException("Llama2cDecodeBenchmark needs " + file
          + " (llama2.c stories260K); set -Ditera.data.dir=/path/to/shared/data or run from the project root next to ../shared/data");
    }
    if (sequence <= 0 || TOKENS % sequence != 0 || sequence > 512) {
      throw new IllegalArgumentException("sequence must divide " + TOKENS + " and be at most 512, got " + sequence);
    }
    CpuBackend cpu = BenchSupport.cpu(threads);
    checkpoint = Llama2cCheckpoint.load(file);
    model = new Transformer(cpu, checkpoint.config(), checkpoint.weights());
    cache = model.newCache();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    cache.close();
    checkpoint.close();
  }

  @Benchmark
  @OperationsPerInvocation(TOKENS)
  public int decode() {
    int v = model.config().vocabSize();
    for (int s = 0; s < TOKENS / sequence; s++) {
      int token = 1;
      for (int pos = 0; pos < sequence; pos++) {
        token = Sampler.argmax(model.forward(token, pos, cache), v);
      }
      sink += token;
    }
    return sink;
  }
}
