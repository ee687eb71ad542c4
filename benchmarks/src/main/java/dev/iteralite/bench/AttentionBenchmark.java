package dev.iteralite.bench;

import dev.iteralite.backend.CpuBackend;
import dev.iteralite.model.CausalLm;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.nativelib.IteraNative;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Training attention of the Transformer baseline: causal multi-head attention forward, backward and
 * both ({@code trainStep}) through the {@code Backend} API against the single-threaded scalar C++
 * specification ({@code *Ref}); and one whole training step (forward + backward, fused LM-head
 * loss) of {@code TransformerModel} against {@code IteraLiteModel} at their {@code tiny(4096)}
 * presets on 8 sequences of 256 tokens ({@code modelStep}, tokens/s = 2048 / time).
 *
 * <p>{@code shape} = batch x L x heads x headSize (kv heads = heads); the target shape is
 * {@code 8x256x4x32}, the tiny preset's attention. FLOPs of the forward (causal half): 2 * B * H *
 * L * (L + 1) / 2 * hs * 2; the backward does 2.5 times that.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = BenchSupport.NATIVE_ACCESS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class AttentionBenchmark {
  @Param("8x256x4x32")
  public String shape;

  /** Worker threads; 0 = all available cores. */
  @Param("0")
  public int threads;

  private CpuBackend cpu;
  private int batch;
  private int len;
  private int heads;
  private int hs;
  private float scale;
  private final List<Tensor> owned = new ArrayList<>();
  private Tensor q, k, v, out, lse, dout, dq, dk, dv;

  private Tensor random(SplittableRandom r, double lo, double hi, long... dims) {
    Tensor t = Tensor.allocate(DType.F32, dims);
    double[] x = new double[(int) t.size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = lo + (hi - lo) * r.nextDouble();
    }
    t.copyFrom(x);
    owned.add(t);
    return t;
  }

  @Setup(Level.Trial)
  public void setup() {
    cpu = BenchSupport.cpu(threads);
    String[] p = shape.split("x");
    batch = Integer.parseInt(p[0]);
    len = Integer.parseInt(p[1]);
    heads = Integer.parseInt(p[2]);
    hs = Integer.parseInt(p[3]);
    scale = (float) (1 / Math.sqrt(hs));
    long rows = (long) batch * len;
    long cols = (long) heads * hs;
    SplittableRandom r = new SplittableRandom(1);
    q = random(r, -1, 1, rows, cols);
    k = random(r, -1, 1, rows, cols);
    v = random(r, -1, 1, rows, cols);
    out = random(r, 0, 0, rows, cols);
    lse = random(r, 0, 0, rows * heads);
    dout = random(r, -1, 1, rows, cols);
    dq = random(r, 0, 0, rows, cols);
    dk = random(r, 0, 0, rows, cols);
    dv = random(r, 0, 0, rows, cols);
    cpu.causalAttentionForward(batch, heads, heads, scale, q, k, v, out, lse);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    owned.forEach(Tensor::close);
    owned.clear();
  }

  @Benchmark
  public void forward() {
    cpu.causalAttentionForward(batch, heads, heads, scale, q, k, v, out, lse);
  }

  /** The scalar C++ specification, single-threaded (same operands). */
  @Benchmark
  public void forwardRef() {
    long c = (long) heads * hs;
    IteraNative.itera_causal_attention_forward_ref(batch, len, heads, heads, hs, scale, q.address(), c, k.address(), c,
        v.address(), c, out.address(), c, lse.address());
  }

  @Benchmark
  public void backward() {
    cpu.causalAttentionBackward(batch, heads, heads, scale, q, k, v, lse, dout, dq, dk, dv);
  }

  @Benchmark
  public void backwardRef() {
    long c = (long) heads * hs;
    IteraNative.itera_causal_attention_backward_ref(batch, len, heads, heads, hs, scale, q.address(), c, k.address(), c,
        v.address(), c, lse.address(), dout.address(), c, dq.address(), c, dk.address(), c, dv.address(), c);
  }

  /** Forward then backward: what one training step spends in attention per layer. */
  @Benchmark
  public void trainStep() {
    forward();
    backward();
  }

  @Benchmark
  public void trainStepRef() {
    forwardRef();
    backwardRef();
  }

  /** One training step of a whole model: {@code tiny(4096)} presets, 8 x 256 tokens. */
  @State(Scope.Benchmark)
  public static class ModelStep {
    /** {@code transformer} or {@code itera-lite}. */
    @Param({"transformer", "itera-lite"})
    public String model;

    @Param("0")
    public int threads;

    static final int VOCAB = 4096;
    static final int BATCH = 8;
    static final int LEN = 256;

    CausalLm lm;
    int[] tokens;
    int[] targets;

    @Setup(Level.Trial)
    public void setup() {
      CpuBackend cpu = BenchSupport.cpu(threads);
      lm = model.equals("transformer")
          ? new TransformerModel(cpu, TransformerConfig.tiny(VOCAB), DType.F32, 1)
          : new IteraLiteModel(cpu, IteraLiteConfig.tiny(VOCAB), DType.F32, 1);
      SplittableRandom r = new SplittableRandom(2);
      tokens = new int[BATCH * LEN];
      targets = new int[BATCH * LEN];
      for (int i = 0; i < tokens.length; i++) {
        tokens[i] = r.nextInt(VOCAB);
        targets[i] = r.nextInt(VOCAB);
      }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
      lm.close();
    }
  }

  @Benchmark
  public double modelStep(ModelStep m) {
    m.lm.parameters().zeroGrads(m.lm.backend());
    try (Arena a = Arena.open()) {
      return m.lm.forwardBackward(m.tokens, m.targets, ModelStep.BATCH, a);
    }
  }
}
