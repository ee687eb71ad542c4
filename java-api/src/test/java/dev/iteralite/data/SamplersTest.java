package dev.iteralite.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Batching: determinism by seed, exact resume, window contents, the TBPTT lane layout, splits and tensors. */
class SamplersTest {
  @TempDir Path dir;

  /** Token i has id i, so every window's contents reveal its position. */
  private static TokenSequence positions(int n) {
    int[] ids = new int[n];
    Arrays.setAll(ids, i -> i);
    return TokenSequence.of(ids, n);
  }

  private static List<Batch> take(BatchSampler s, int k) {
    List<Batch> out = new ArrayList<>();
    for (int i = 0; i < k; i++) {
      out.add(s.next());
    }
    return out;
  }

  private static void assertSameBatches(List<Batch> a, List<Batch> b) {
    assertEquals(a.size(), b.size());
    for (int i = 0; i < a.size(); i++) {
      assertArrayEquals(a.get(i).inputs(), b.get(i).inputs(), "inputs of batch " + i);
      assertArrayEquals(a.get(i).targets(), b.get(i).targets(), "targets of batch " + i);
    }
  }

  @Test
  void randomWindowsAreValidWindowsWithShiftedTargets() {
    int n = 1000;
    int seqLen = 16;
    RandomWindowSampler s = new RandomWindowSampler(positions(n), 8, seqLen, 42);
    for (int b = 0; b < 50; b++) {
      long[] starts = s.starts(b);
      Batch batch = s.next();
      for (int r = 0; r < 8; r++) {
        assertTrue(starts[r] >= 0 && starts[r] + seqLen + 1 <= n, "start " + starts[r]);
        for (int t = 0; t < seqLen; t++) {
          assertEquals(starts[r] + t, batch.inputs()[r * seqLen + t]);
          assertEquals(starts[r] + t + 1, batch.targets()[r * seqLen + t]);
        }
      }
    }
    assertEquals(50, s.position());
  }

  @Test
  void randomStartsCoverTheWholeRangeUniformly() {
    int n = 101;
    int seqLen = 1; // starts in [0, 100)
    RandomWindowSampler s = new RandomWindowSampler(positions(n), 100, seqLen, 7);
    int[] hist = new int[100];
    for (int b = 0; b < 200; b++) {
      for (long start : s.starts(b)) {
        hist[(int) start]++;
      }
    }
    // 20,000 draws, 200 expected per value: a loose check that every start is reachable and none dominates
    for (int v = 0; v < 100; v++) {
      assertTrue(hist[v] > 120 && hist[v] < 290, "start " + v + " drawn " + hist[v] + " times");
    }
  }

  @Test
  void sameSeedSameBatchesDifferentSeedDifferent() {
    TokenSequence t = positions(10_000);
    assertSameBatches(take(new RandomWindowSampler(t, 4, 32, 1), 20), take(new RandomWindowSampler(t, 4, 32, 1), 20));
    List<Batch> a = take(new RandomWindowSampler(t, 4, 32, 1), 20);
    List<Batch> b = take(new RandomWindowSampler(t, 4, 32, 2), 20);
    int differing = 0;
    for (int i = 0; i < 20; i++) {
      if (!Arrays.equals(a.get(i).inputs(), b.get(i).inputs())) {
        differing++;
      }
    }
    assertEquals(20, differing);
    // consecutive batches of one seed differ too
    assertFalse(Arrays.equals(a.get(0).inputs(), a.get(1).inputs()));
  }

  @Test
  void randomSamplerResumesExactly() {
    TokenSequence t = positions(5000);
    RandomWindowSampler original = new RandomWindowSampler(t, 3, 10, 99);
    take(original, 7);
    long saved = original.position();
    assertEquals(7, saved);
    List<Batch> continuation = take(original, 5);

    RandomWindowSampler resumed = new RandomWindowSampler(t, 3, 10, 99);
    resumed.restore(saved);
    assertSameBatches(continuation, take(resumed, 5));
    assertEquals(12, resumed.position());
    assertSameBatches(List.of(continuation.get(2)), List.of(resumed.batch(9)));
    assertEquals(12, resumed.position(), "batch(index) does not move the position");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> resumed.restore(-1));
    assertTrue(e.getMessage().contains("position()"), e.getMessage());
  }

  @Test
  void samplersReadTokenFilesLikeArrays() throws IOException {
    int[] ids = new int[20_000];
    Arrays.setAll(ids, i -> (i * 31) % 70_000);
    TokenFile.write(dir.resolve("s.tok"), ids, 70_000, "t", -1);
    try (TokenFile f = TokenFile.open(dir.resolve("s.tok"), 4096)) {
      TokenSequence a = TokenSequence.of(ids, 70_000);
      assertSameBatches(take(new RandomWindowSampler(a, 5, 64, 3), 10), take(new RandomWindowSampler(f, 5, 64, 3), 10));
      assertSameBatches(take(new ContiguousStreamSampler(a, 5, 64), 70), take(new ContiguousStreamSampler(f, 5, 64), 70));
    }
  }

  @Test
  void contiguousStreamsMatchTheClassicBatchifyLayout() {
    int n = 4 * 23 + 3; // 4 lanes of 23, 3 tokens dropped
    int batch = 4;
    int seqLen = 5;
    TokenSequence t = positions(n);
    ContiguousStreamSampler s = new ContiguousStreamSampler(t, batch, seqLen);
    assertEquals(23, s.laneLength());
    assertEquals(4, s.windowsPerEpoch()); // (23 - 1) / 5: the final 2-token window is dropped

    // pytorch/examples word_language_model: data = tokens[:nbatch * bsz].view(bsz, -1).t(), shape [nbatch, bsz];
    // get_batch(i): data[i:i+bptt], target data[i+1:i+1+bptt], for i in range(0, nbatch - 1, bptt)
    int nbatch = n / batch;
    int[][] data = new int[nbatch][batch];
    for (int j = 0; j < batch; j++) {
      for (int i = 0; i < nbatch; i++) {
        data[i][j] = t.get((long) j * nbatch + i);
      }
    }
    for (int epoch = 0; epoch < 2; epoch++) {
      for (int i = 0; i + seqLen < nbatch; i += seqLen) {
        assertEquals(epoch, s.epoch());
        Batch b = s.next();
        for (int j = 0; j < batch; j++) {
          for (int k = 0; k < seqLen; k++) {
            assertEquals(data[i + k][j], b.inputs()[j * seqLen + k], "input lane " + j + " step " + (i + k));
            assertEquals(data[i + k + 1][j], b.targets()[j * seqLen + k], "target lane " + j + " step " + (i + k));
          }
        }
      }
    }
    assertEquals(8, s.position());
    assertEquals(2, s.epoch());
    assertEquals(23 + 5, s.start(1, 1));
  }

  @Test
  void contiguousSamplerResumesExactly() {
    TokenSequence t = positions(10_000);
    ContiguousStreamSampler a = new ContiguousStreamSampler(t, 7, 13);
    take(a, 150); // past the first epoch (109 windows)
    long saved = a.position();
    List<Batch> continuation = take(a, 20);
    ContiguousStreamSampler b = new ContiguousStreamSampler(t, 7, 13);
    b.restore(saved);
    assertSameBatches(continuation, take(b, 20));
  }

  @Test
  void shapesAndArraysAreChecked() {
    TokenSequence t = positions(100);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new RandomWindowSampler(t, 2, 100, 0));
    assertTrue(e.getMessage().contains("seqLen 100 needs at least 101 tokens"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> new ContiguousStreamSampler(t, 10, 10));
    assertTrue(e.getMessage().contains("lanes holds 10 tokens"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> new RandomWindowSampler(t, 0, 10, 0));
    assertThrows(IllegalArgumentException.class, () -> new ContiguousStreamSampler(t, 1, 0));
    RandomWindowSampler s = new RandomWindowSampler(t, 2, 99, 0); // exactly one possible window
    assertEquals(0, s.next().inputs()[0]);
    e = assertThrows(IllegalArgumentException.class, () -> s.nextInto(new int[10], new int[198]));
    assertTrue(e.getMessage().contains("198"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> TokenSequence.of(new int[] {5}, 5));
    assertThrows(IndexOutOfBoundsException.class, () -> t.slice(50, 101));
  }

  @Test
  void batchTensorsAreOwnedI32() {
    long live = NativeMemory.unreleasedAllocations();
    Batch b = new RandomWindowSampler(positions(300), 3, 20, 5).next();
    try (Tensor in = b.inputsTensor(); Tensor out = b.targetsTensor()) {
      assertEquals(DType.I32, in.dtype());
      assertArrayEquals(new long[] {3, 20}, in.shape());
      assertArrayEquals(b.inputs(), in.toIntArray());
      assertArrayEquals(b.targets(), out.toIntArray());
      assertEquals(b.inputs()[20 + 4], in.getInt(1, 4));
    }
    assertEquals(live, NativeMemory.unreleasedAllocations());
    assertThrows(IllegalArgumentException.class, () -> new Batch(2, 2, new int[4], new int[3]));
  }

  @Test
  void splitByFractionIsContiguousAndDeterministic() {
    TokenSequence t = positions(1000);
    TrainValSplit split = TrainValSplit.byFraction(t, 0.1);
    assertEquals(900, split.train().size());
    assertEquals(100, split.validation().size());
    assertEquals(899, split.train().get(899));
    assertEquals(900, split.validation().get(0));
    assertEquals(950, split.validation().slice(50, 60).get(0));
    int[] buf = new int[3];
    split.validation().read(97, buf, 0, 3);
    assertArrayEquals(new int[] {997, 998, 999}, buf);
    assertThrows(IndexOutOfBoundsException.class, () -> split.validation().read(98, buf, 0, 3));
    assertThrows(IllegalArgumentException.class, () -> TrainValSplit.byFraction(t, 1.0));
    assertThrows(IllegalArgumentException.class, () -> TrainValSplit.byFraction(t, 0.0001));
    assertThrows(IllegalArgumentException.class,
        () -> new TrainValSplit(positions(10), TokenSequence.of(new int[] {0}, 2)));
  }
}
