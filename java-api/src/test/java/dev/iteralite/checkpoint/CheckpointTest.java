package dev.iteralite.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.IteraLite;
import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import dev.iteralite.tokenizer.CharTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir Path root;

  static final IteraLiteConfig CONFIG =
      IteraLiteConfig.builder(20, 16, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(24).build();
  private final Backend backend = Backends.select();

  static Tokenizer tokenizer() {
    return CharTokenizer.of("abcdefghijklmnopqrs".codePoints().toArray()); // 19 characters + UNK = 20 ids
  }

  @AfterEach
  void resetHook() {
    Checkpoint.faultHook = point -> {};
  }

  private static int[] bits(IteraLiteModel m) {
    float[] v = m.parameters().values().toFloatArray();
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return b;
  }

  private static int[] bits(Checkpoint.Loaded l) {
    return bits((IteraLiteModel) l.model());
  }

  private static TrainingState state(long step) {
    return new TrainingState(step, step * 64, step * 2, step, 1.25, step - 1, 0, 1.5, 3.0, "{\"seed\": 1}");
  }

  @Test
  void modelTokenizerAndConfigRoundTripExactly() throws IOException {
    long live = NativeMemory.unreleasedBytes();
    Tokenizer tok = tokenizer();
    try (IteraLiteModel m = new IteraLiteModel(backend, CONFIG, DType.F32, 5)) {
      Path dir = Checkpoint.save(root, m, tok);
      assertEquals("step-00000000", dir.getFileName().toString());
      for (String f : List.of(Checkpoint.MODEL_FILE, Checkpoint.CONFIG_FILE, Checkpoint.TOKENIZER_FILE)) {
        assertTrue(Files.isRegularFile(dir.resolve(f)), f);
      }
      assertFalse(Files.exists(dir.resolve(Checkpoint.STATE_FILE)));
      String json = Files.readString(dir.resolve(Checkpoint.CONFIG_FILE));
      assertTrue(json.contains("\"architecture\" : \"itera-lite\"") && json.contains("\"format_version\" : 1")
          && json.contains("\"dModel\" : 16") && json.contains("\"library_version\""), json);
      try (Checkpoint.Loaded l = Checkpoint.load(root, backend)) {
        assertArrayEquals(bits(m), bits(l));
        assertEquals(CONFIG, l.model().config());
        assertEquals(tok.name(), l.tokenizer().name());
        assertArrayEquals(tok.encode("abc sr"), l.tokenizer().encode("abc sr"));
        assertEquals(dir, l.directory());
        assertEquals(0, l.step());
      }
      // The same folder given directly, and through the application entry point.
      try (IteraLite.LoadedModel lm = IteraLite.load(dir, backend)) {
        assertArrayEquals(bits(m), bits((IteraLiteModel) lm.model()));
        String out = lm.generate("abc", GenerationConfig.greedy(5)).text();
        assertTrue(out.length() <= 5 * 3, out);
        double loss = lm.evaluate("abcabcabcabcabcabc").loss();
        assertTrue(loss > 0 && loss < 10, "loss " + loss);
      }
    }
    assertEquals(live, NativeMemory.unreleasedBytes());
  }

  @Test
  void trainingStateAndOptimizerTensorsRoundTripExactly() throws IOException {
    try (IteraLiteModel m = new IteraLiteModel(backend, CONFIG, DType.F32, 5);
        Tensor mom = Tensor.of(new float[] {1.5f, -0f, Float.MIN_VALUE}, 3);
        Tensor back = Tensor.allocate(DType.F32, 3)) {
      TrainingState s = new TrainingState(7, 448, 14, 7, Double.POSITIVE_INFINITY, -1, 2, Double.NaN, 0.1 + 0.2,
          "{\"seed\": 3, \"batchSize\": 4}");
      Path dir = Checkpoint.save(root, m, tokenizer(), s, Map.of("m", mom), false);
      TrainingState r = Checkpoint.readTrainingState(dir).orElseThrow();
      assertEquals(s.step(), r.step());
      assertEquals(s.tokensSeen(), r.tokensSeen());
      assertEquals(s.samplerPosition(), r.samplerPosition());
      assertEquals(s.optimizerStep(), r.optimizerStep());
      assertEquals(Double.POSITIVE_INFINITY, r.bestValLoss());
      assertEquals(-1, r.bestStep());
      assertEquals(2, r.evalsWithoutImprovement());
      assertTrue(Double.isNaN(r.lastValLoss()));
      assertEquals(Double.doubleToRawLongBits(0.1 + 0.2), Double.doubleToRawLongBits(r.elapsedSeconds()));
      assertTrue(r.trainingConfigJson().contains("\"batchSize\""), r.trainingConfigJson());
      Checkpoint.readOptimizerTensors(dir, Map.of("m", back));
      assertArrayEquals(mom.toFloatArray(), back.toFloatArray());
      assertThrows(IOException.class, () -> Checkpoint.readOptimizerTensors(dir, Map.of("v", back)));
      try (Tensor wrong = Tensor.allocate(DType.F32, 4)) {
        assertThrows(IOException.class, () -> Checkpoint.readOptimizerTensors(dir, Map.of("m", wrong)));
      }
    }
  }

  @Test
  void lastAndBestAreKeptAndOlderFoldersRemoved() throws IOException {
    try (IteraLiteModel m = new IteraLiteModel(backend, CONFIG, DType.F32, 5)) {
      Checkpoint.save(root, m, tokenizer(), state(10), Map.of(), true);
      Checkpoint.save(root, m, tokenizer(), state(20), Map.of(), false);
      Path last = Checkpoint.save(root, m, tokenizer(), state(30), Map.of(), false);
      assertEquals(root.resolve("step-00000030"), last);
      assertEquals(root.resolve("step-00000010"), Checkpoint.find(root, Checkpoint.Which.BEST).orElseThrow());
      assertEquals(last, Checkpoint.find(root, Checkpoint.Which.LAST).orElseThrow());
      try (Stream<Path> s = Files.list(root)) {
        assertEquals(List.of("BEST", "LAST", "step-00000010", "step-00000030"),
            s.map(p -> p.getFileName().toString()).sorted().toList());
      }
      // The same step saved again gets its own folder; the superseded one is removed.
      Path again = Checkpoint.save(root, m, tokenizer(), state(30), Map.of(), true);
      assertEquals(root.resolve("step-00000030-2"), again);
      try (Stream<Path> s = Files.list(root)) {
        assertEquals(List.of("BEST", "LAST", "step-00000030-2"), s.map(p -> p.getFileName().toString()).sorted().toList());
      }
    }
  }

  /**
   * A crash simulated at every point of a save: the checkpoint that was last (and best) before it
   * stays loadable with its exact weights until the pointer moves; afterwards the new one is.
   */
  @Test
  void aCrashAtAnyPointOfASaveLeavesALoadableCheckpoint() throws IOException {
    List<String> points = List.of("model-written", "files-written", "published", "last-pointer-written", "best-pointer-written");
    for (String point : points) {
      Path r = root.resolve(point);
      try (IteraLiteModel a = new IteraLiteModel(backend, CONFIG, DType.F32, 1);
          IteraLiteModel b = new IteraLiteModel(backend, CONFIG, DType.F32, 2)) {
        Checkpoint.save(r, a, tokenizer(), state(10), Map.of(), true);
        Checkpoint.faultHook = p -> {
          if (p.equals(point)) {
            throw new IOException("simulated crash at " + p);
          }
        };
        IOException crash = assertThrows(IOException.class, () -> Checkpoint.save(r, b, tokenizer(), state(20), Map.of(), true));
        assertTrue(crash.getMessage().contains(point));
        Checkpoint.faultHook = p -> {};
        boolean lastMoved = points.indexOf(point) >= points.indexOf("last-pointer-written");
        boolean bestMoved = points.indexOf(point) >= points.indexOf("best-pointer-written");
        try (Checkpoint.Loaded last = Checkpoint.load(r, backend);
            Checkpoint.Loaded best = Checkpoint.load(r, Checkpoint.Which.BEST, backend)) {
          assertArrayEquals(bits(lastMoved ? b : a), bits(last), point + ": last");
          assertArrayEquals(bits(bestMoved ? b : a), bits(best), point + ": best");
          assertEquals(lastMoved ? 20 : 10, Checkpoint.readTrainingState(last.directory()).orElseThrow().step());
        }
        // The next save succeeds and sweeps away what the crash left behind.
        Checkpoint.save(r, b, tokenizer(), state(30), Map.of(), true);
        try (Stream<Path> s = Files.list(r)) {
          assertEquals(List.of("BEST", "LAST", "step-00000030"), s.map(p -> p.getFileName().toString()).sorted().toList(), point);
        }
      }
    }
  }

  @Test
  void invalidCheckpointsAreRejectedWithClearMessages() throws IOException {
    IOException none = assertThrows(IOException.class, () -> Checkpoint.load(root.resolve("empty"), backend));
    assertTrue(none.getMessage().contains("no checkpoint"), none.getMessage());
    Path dir;
    try (IteraLiteModel m = new IteraLiteModel(backend, CONFIG, DType.F32, 5)) {
      dir = Checkpoint.save(root, m, tokenizer());
    }
    Path config = dir.resolve(Checkpoint.CONFIG_FILE);
    String good = Files.readString(config);

    Files.writeString(config, good.replace("\"itera-lite\"", "\"rnn\""));
    assertMessage(dir, "unknown architecture 'rnn'");
    Files.writeString(config, good.replace("\"itera-lite\"", "\"transformer\""));
    assertMessage(dir, "not a valid TransformerConfig");
    Files.writeString(config, good.replace("\"dModel\" : 16", "\"dModel\" : 0"));
    assertMessage(dir, "dModel must be >= 1");
    Files.writeString(config, good.replace("\"dModel\" : 16", "\"dModel\" : 32"));
    assertMessage(dir, "tensor 'embed.weight' has shape [20, 16] but the model declares [20, 32]");
    Files.writeString(config, good.replace("\"dModel\" : 16,", ""));
    assertMessage(dir, "dModel");
    Files.writeString(config, good.replace("\"format_version\" : 1", "\"format_version\" : 9"));
    assertMessage(dir, "format_version 9");
    Files.writeString(config, "{ not json");
    assertMessage(dir, "not valid JSON");
    Files.writeString(config, good);
    Files.delete(dir.resolve(Checkpoint.TOKENIZER_FILE));
    assertMessage(dir, "tokenizer.bin is missing");

    Files.writeString(root.resolve(Checkpoint.LAST_POINTER), "../etc\n", StandardCharsets.UTF_8);
    IOException bad = assertThrows(IOException.class, () -> Checkpoint.load(root, backend));
    assertTrue(bad.getMessage().contains("not a checkpoint folder name"), bad.getMessage());
    Files.writeString(root.resolve(Checkpoint.LAST_POINTER), "step-00000099\n", StandardCharsets.UTF_8);
    bad = assertThrows(IOException.class, () -> Checkpoint.load(root, backend));
    assertTrue(bad.getMessage().contains("step-00000099"), bad.getMessage());
  }

  private void assertMessage(Path dir, String fragment) {
    long live = NativeMemory.unreleasedBytes();
    IOException e = assertThrows(IOException.class, () -> Checkpoint.load(dir, backend).close());
    assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' lacks '" + fragment + "'");
    assertEquals(live, NativeMemory.unreleasedBytes(), "a failed load must free the model it built");
  }

  @Test
  void transformerCheckpointsRoundTripThroughTheSameDispatch() throws IOException {
    TransformerConfig tc = TransformerConfig.builder(20, 16, 2).build();
    try (TransformerModel t = new TransformerModel(backend, tc, DType.F32, 4)) {
      Checkpoint.save(root, t, tokenizer());
      try (Checkpoint.Loaded l = Checkpoint.load(root, backend)) {
        TransformerModel back = (TransformerModel) l.model();
        assertEquals(tc, back.config());
        assertArrayEquals(t.parameters().values().toFloatArray(), back.parameters().values().toFloatArray());
      }
    }
  }

  @Test
  void weightsLoadIntoAMatchingModelOnly() throws IOException {
    try (IteraLiteModel a = new IteraLiteModel(backend, CONFIG, DType.F32, 1);
        IteraLiteModel b = new IteraLiteModel(backend, CONFIG, DType.F32, 2);
        IteraLiteModel other = new IteraLiteModel(backend, IteraLiteConfig.builder(20, 8, 1).build(), DType.F32, 2)) {
      Path dir = Checkpoint.save(root, a, null);
      assertNotEquals(java.util.Arrays.toString(bits(a)), java.util.Arrays.toString(bits(b)));
      Checkpoint.loadWeights(dir, b);
      assertArrayEquals(bits(a), bits(b));
      IOException e = assertThrows(IOException.class, () -> Checkpoint.loadWeights(dir, other));
      assertTrue(e.getMessage().contains("configuration"), e.getMessage());
      try (Checkpoint.Loaded l = Checkpoint.load(dir, backend)) {
        assertNull(l.tokenizer());
      }
    }
  }
}
