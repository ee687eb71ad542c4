package dev.iteralite.train;

import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.CharTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Shared fixture of the trainer tests: a tiny MoE Itera-Lite over 20 ids and a learnable synthetic sequence. */
final class TinyRun {
  static final IteraLiteConfig MODEL =
      IteraLiteConfig.builder(20, 16, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(24).build();

  private TinyRun() {}

  static IteraLiteModel model(long seed) {
    return new IteraLiteModel(Backends.select(), MODEL, DType.F32, seed);
  }

  static Tokenizer tokenizer() {
    return CharTokenizer.of("abcdefghijklmnopqrs".codePoints().toArray()); // 19 characters + UNK = 20 ids
  }

  /**
   * A pattern (the next id is a function of the one before it, 10% noise): a model that learns it
   * gets far below the uniform ln 20 nats.
   */
  static TokenSequence data(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] ids = new int[n];
    ids[0] = 1;
    ids[1] = 2;
    for (int i = 2; i < n; i++) {
      ids[i] = r.nextDouble() < 0.1 ? 1 + r.nextInt(19) : 1 + (ids[i - 1] * 7 + 3) % 19;
    }
    return TokenSequence.of(ids, 20);
  }

  static TrainingConfig.Builder config() {
    return TrainingConfig.builder().seed(11).batchSize(4).seqLen(16).peakLr(1e-2).warmupSteps(5).totalSteps(40)
        .lrFloorFraction(0.1).weightDecay(0.1).clipNorm(1.0).evalEvery(10).evalBatches(2);
  }

  static TrainingConfig.Builder config(Path checkpoints) {
    return config().checkpointDir(checkpoints);
  }
}
