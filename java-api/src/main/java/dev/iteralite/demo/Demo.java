package dev.iteralite.demo;

import dev.iteralite.backend.Activation;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.nn.ActivationLayer;
import dev.iteralite.nn.Embedding;
import dev.iteralite.nn.Layer;
import dev.iteralite.nn.Linear;
import dev.iteralite.nn.LmHeadLoss;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.nn.RMSNorm;
import dev.iteralite.nn.Residual;
import dev.iteralite.nn.Sequential;
import dev.iteralite.optim.AdamW;
import dev.iteralite.optim.LearningRateSchedule;
import dev.iteralite.tensor.Arena;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A small end-to-end program of the Java API: trains a byte-level next-token model (embedding,
 * two residual SiLU MLP blocks with RMSNorm, tied LM head with the fused cross-entropy kernel,
 * AdamW with warm-up and cosine decay) on an embedded text or a file given as the first argument,
 * then reports validation loss, bits per byte and throughput, and samples a few bytes.
 *
 * <p>The model sees one previous byte per prediction (a bigram model): the sequence mixers
 * (selective scan, attention) arrive with the model issues.
 */
public final class Demo {
  private static final int VOCAB = 256;
  private static final int DIM = 64;
  private static final int HIDDEN = 256;
  private static final int BATCH = 1024;
  private static final int STEPS = 300;

  private Demo() {}

  public static void main(String[] args) throws IOException {
    boolean fromFile = args.length > 0 && !args[0].isBlank();
    byte[] text = fromFile ? Files.readAllBytes(Path.of(args[0])) : defaultCorpus();
    if (text.length < 64) {
      throw new IllegalArgumentException("training text must have at least 64 bytes, got " + text.length);
    }
    Backend backend = Backends.select();
    int split = text.length * 9 / 10;
    System.out.printf(Locale.ROOT, "text: %d bytes (%s), train %d, validation %d%n",
        text.length, fromFile ? args[0] : "embedded default", split, text.length - split);

    ParameterSet.Builder declared = ParameterSet.builder();
    Embedding embedding = new Embedding(backend, declared, "embed", VOCAB, DIM);
    List<Layer> layers = new ArrayList<>();
    layers.add(embedding);
    for (int b = 0; b < 2; b++) {
      layers.add(new Residual(backend, new Sequential(List.of(
          new RMSNorm(backend, declared, "blocks." + b + ".norm", DIM, 1e-5f),
          new Linear(backend, declared, "blocks." + b + ".up", DIM, HIDDEN, true),
          new ActivationLayer(backend, Activation.SILU),
          new Linear(backend, declared, "blocks." + b + ".down", HIDDEN, DIM, true)))));
    }
    layers.add(new RMSNorm(backend, declared, "final_norm", DIM, 1e-5f));
    Sequential model = new Sequential(layers);
    long startBytes = NativeMemory.liveBytes();

    try (ParameterSet params = declared.build(DType.F32, 1234);
        AdamW optimizer = new AdamW(backend, params, new AdamW.Config(0.9, 0.95, 1e-8, 0.01, 1.0))) {
      LmHeadLoss head = new LmHeadLoss(backend, embedding.table());
      System.out.printf(Locale.ROOT, "model: %,d parameters in one %,d-element arena%n", params.parameterCount(), params.flatSize());
      LearningRateSchedule lr = LearningRateSchedule.warmupCosine(3e-3, 20, STEPS, 0.1);
      SplittableRandom random = new SplittableRandom(7);
      int[] inputs = new int[BATCH];
      int[] targets = new int[BATCH];
      long start = System.nanoTime();
      for (int step = 0; step < STEPS; step++) {
        for (int i = 0; i < BATCH; i++) {
          int pos = random.nextInt(split - 1);
          inputs[i] = text[pos] & 0xFF;
          targets[i] = text[pos + 1] & 0xFF;
        }
        double loss;
        try (Arena arena = Arena.open()) {
          Tensor ids = arena.adopt(Tensor.ofInts(inputs, BATCH));
          Tensor tgt = arena.adopt(Tensor.ofInts(targets, BATCH));
          params.zeroGrads(backend);
          Tensor h = model.forward(ids, arena);
          Tensor dh = arena.allocate(DType.F32, h.shape());
          loss = head.forwardBackward(h, tgt, dh, arena);
          model.backward(dh, arena);
        }
        double norm = optimizer.step(lr.at(step), 1.0);
        if (step % 50 == 0 || step == STEPS - 1) {
          System.out.printf(Locale.ROOT, "step %4d  loss %.4f  grad-norm %.3f  lr %.2e%n", step, loss, norm, lr.at(step));
        }
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      System.out.printf(Locale.ROOT, "trained %d steps in %.2f s: %.0f tokens/s%n", STEPS, seconds, STEPS * (double) BATCH / seconds);

      double valLoss = evaluate(model, head, text, split);
      System.out.printf(Locale.ROOT, "validation: loss %.4f nats/byte, %.3f bits/byte (uniform guess: %.3f)%n",
          valLoss, valLoss / Math.log(2), 8.0);
      System.out.println("sample: " + sample(model, head, backend, random));
    }
    System.out.printf(Locale.ROOT, "native memory in use after close: %d bytes above start%n", NativeMemory.liveBytes() - startBytes);
  }

  private static double evaluate(Sequential model, LmHeadLoss head, byte[] text, int split) {
    int n = text.length - split - 1;
    int[] inputs = new int[n];
    int[] targets = new int[n];
    for (int i = 0; i < n; i++) {
      inputs[i] = text[split + i] & 0xFF;
      targets[i] = text[split + i + 1] & 0xFF;
    }
    try (Arena arena = Arena.open()) {
      Tensor h = model.forward(arena.adopt(Tensor.ofInts(inputs, n)), arena);
      return head.loss(h, arena.adopt(Tensor.ofInts(targets, n)), arena);
    }
  }

  private static String sample(Sequential model, LmHeadLoss head, Backend backend, SplittableRandom random) {
    StringBuilder out = new StringBuilder("T");
    int current = 'T';
    try (Arena arena = Arena.open()) {
      Tensor logits = arena.allocate(DType.F32, 1, VOCAB);
      Tensor probs = arena.allocate(DType.F32, 1, VOCAB);
      for (int i = 0; i < 60; i++) {
        Tensor h = model.forward(arena.adopt(Tensor.ofInts(new int[] {current}, 1)), arena);
        backend.gemm(false, true, 1f, h, head.weight().value(), 0f, logits);
        backend.softmaxForward(logits, probs);
        double u = random.nextDouble();
        int next = VOCAB - 1;
        for (int v = 0; v < VOCAB; v++) {
          u -= probs.getDouble(0, v);
          if (u <= 0) {
            next = v;
            break;
          }
        }
        current = next;
        out.append(next >= 32 && next < 127 ? (char) next : next == '\n' ? ' ' : '?');
      }
    }
    return out.toString();
  }

  private static byte[] defaultCorpus() {
    try (InputStream in = Demo.class.getResourceAsStream("default-corpus.txt")) {
      if (in == null) {
        throw new IllegalStateException("embedded corpus default-corpus.txt missing from the jar");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
