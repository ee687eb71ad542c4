package dev.iteralite.compress;

import dev.iteralite.backend.Backends;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.testing.TestData;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.Arrays;

/**
 * A small byte-level Itera-Lite (Mamba + MoE) trained briefly on WikiText-2, shared by the
 * compression tests of one JVM (trained once, then copied into fresh models). Skips the calling
 * test when the data is absent.
 */
final class TrainedFixture {
  static final IteraLiteConfig CONFIG =
      IteraLiteConfig.builder(256, 48, 2).dState(8).moeEvery(1).experts(6).topK(2).ffnHidden(64).build();
  static final int STEPS = 150;
  private static double[] weights;
  private static byte[] train;
  private static byte[] valid;

  private TrainedFixture() {}

  /** WikiText-2 training bytes (first 1 MB). */
  static synchronized byte[] trainBytes() {
    load();
    return train;
  }

  /** WikiText-2 validation bytes (first 100 kB). */
  static synchronized byte[] validBytes() {
    load();
    return valid;
  }

  static TokenSequence tokens(byte[] bytes) {
    return TokenSequence.of(ByteTokenizer.instance().encode(bytes), 256);
  }

  private static void load() {
    if (train != null) {
      return;
    }
    try {
      train = Arrays.copyOf(Files.readAllBytes(TestData.require("wikitext-2/train.txt")), 1_000_000);
      valid = Arrays.copyOf(Files.readAllBytes(TestData.require("wikitext-2/valid.txt")), 100_000);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A fresh copy of the trained model (the caller closes it). */
  static synchronized IteraLiteModel model() {
    load();
    IteraLiteModel m = new IteraLiteModel(Backends.select(), CONFIG, DType.F32, 1);
    if (weights == null) {
      TrainingConfig tc = TrainingConfig.builder().seed(5).batchSize(8).seqLen(32).peakLr(5e-3).warmupSteps(10)
          .totalSteps(STEPS).lrFloorFraction(0.1).weightDecay(0.1).clipNorm(1.0).build();
      try (Trainer t = new Trainer(m, tc, tokens(train), null)) {
        t.run();
      }
      weights = m.parameters().values().toDoubleArray();
    } else {
      m.parameters().values().copyFrom(weights);
    }
    return m;
  }
}
