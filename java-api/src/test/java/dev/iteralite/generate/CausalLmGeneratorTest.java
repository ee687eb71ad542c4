package dev.iteralite.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generation with an Itera-Lite model (random initialisation, byte tokenizer): the generic path of
 * {@link Generator} against a hand-written decoding loop, streaming, stop sequences, cancellation,
 * seeded sampling, concurrent generations and freed native memory.
 */
class CausalLmGeneratorTest {
  private static IteraLiteModel model;
  private static Generator gen;

  @BeforeAll
  static void build() {
    IteraLiteConfig c = IteraLiteConfig.builder(256, 32, 2).moeEvery(2).experts(2).topK(1).ffnHidden(48).build();
    model = new IteraLiteModel(Backends.cpu(), c, DType.F32, 17);
    gen = new Generator(model, ByteTokenizer.instance());
  }

  @AfterAll
  static void close() {
    model.close();
  }

  @Test
  void greedyMatchesAHandWrittenDecodingLoop() {
    byte[] prompt = "Hello".getBytes(StandardCharsets.UTF_8);
    int[] ids = ByteTokenizer.instance().encode(prompt);
    int[] expected = new int[24];
    try (DecodeSession s = model.newSession()) {
      float[] logits = s.prefill(ids);
      for (int i = 0; i < expected.length; i++) {
        expected[i] = Sampler.argmax(logits, 256);
        if (i + 1 < expected.length) {
          logits = s.step(expected[i]);
        }
      }
    }
    StringBuilder streamed = new StringBuilder();
    GenerationResult r = gen.generate("Hello", GenerationConfig.greedy(24), (t, p) -> streamed.append(p));
    assertArrayEquals(expected, r.generatedTokens());
    assertArrayEquals(ids, r.promptTokens(), "no BOS for a byte tokenizer");
    assertEquals(GenerationResult.StopReason.MAX_TOKENS, r.stopReason());
    // Incremental UTF-8 decoding (random bytes: many invalid sequences) equals decoding all at once.
    assertEquals(new String(ByteTokenizer.instance().decode(expected), StandardCharsets.UTF_8), r.text());
    assertEquals(r.text(), streamed.toString());
  }

  @Test
  void sampledStreamsReassembleAndSeedsReproduce() {
    GenerationConfig cfg = GenerationConfig.builder().temperature(1f).topK(40).topP(0.95f).seed(3).maxNewTokens(80).build();
    StringBuilder streamed = new StringBuilder();
    GenerationResult a = gen.generate("ab", cfg, (t, p) -> streamed.append(p));
    GenerationResult b = gen.generate("ab", cfg);
    assertArrayEquals(a.generatedTokens(), b.generatedTokens());
    assertEquals(a.text(), streamed.toString());
    assertEquals(new String(ByteTokenizer.instance().decode(a.generatedTokens()), StandardCharsets.UTF_8), a.text());
    GenerationResult c = gen.generate("ab", GenerationConfig.builder().temperature(1f).seed(4).maxNewTokens(80).build());
    assertNotEquals(a.text(), c.text());
  }

  @Test
  void stopSequenceCutsTheTextAndIsNeverStreamed() {
    String full = gen.generate("xyz", GenerationConfig.builder().temperature(1f).seed(9).maxNewTokens(60).build()).text();
    assertTrue(full.length() > 20, full);
    String stop = full.substring(12, 15);
    StringBuilder streamed = new StringBuilder();
    GenerationResult r = gen.generate("xyz",
        GenerationConfig.builder().temperature(1f).seed(9).maxNewTokens(60).stopSequences(List.of(stop)).build(),
        (t, p) -> streamed.append(p));
    assertEquals(GenerationResult.StopReason.STOP_SEQUENCE, r.stopReason());
    assertEquals(full.substring(0, full.indexOf(stop)), r.text());
    assertEquals(r.text(), streamed.toString());
  }

  @Test
  void cancellationStopsBeforeTheNextModelCallAndFreesTheSession() {
    long before = NativeMemory.unreleasedBytes();
    int[] calls = {0};
    GenerationListener l = new GenerationListener() {
      @Override
      public void onToken(int token, String piece) {
        if (token >= 0) {
          calls[0]++;
        }
      }

      @Override
      public boolean isCancelled() {
        return calls[0] >= 3;
      }
    };
    GenerationResult r = gen.generate("q", GenerationConfig.greedy(1000), l);
    assertEquals(GenerationResult.StopReason.CANCELLED, r.stopReason());
    assertEquals(3, r.generatedTokens().length);
    assertEquals(before, NativeMemory.unreleasedBytes(), "the decoding state is freed");
    // Cancelled before the prompt: nothing runs.
    GenerationResult none = gen.generate("q", GenerationConfig.greedy(5), new GenerationListener() {
      @Override
      public void onToken(int token, String piece) {
        throw new AssertionError("no token expected");
      }

      @Override
      public boolean isCancelled() {
        return true;
      }
    });
    assertEquals(0, none.generatedTokens().length);
    assertEquals(GenerationResult.StopReason.CANCELLED, none.stopReason());
    // A throwing listener aborts generation; its exception propagates and the state is freed.
    IllegalStateException boom = new IllegalStateException("client went away");
    IllegalStateException thrown = assertThrows(IllegalStateException.class,
        () -> gen.generate("q", GenerationConfig.greedy(50), (t, p) -> {
          throw boom;
        }));
    assertSame(boom, thrown);
    assertEquals(before, NativeMemory.unreleasedBytes());
  }

  @Test
  void concurrentGenerationsMatchSequentialOnes() throws Exception {
    List<GenerationConfig> cfgs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      cfgs.add(GenerationConfig.builder().temperature(0.8f).seed(100 + i).maxNewTokens(40).build());
    }
    List<int[]> sequential = new ArrayList<>();
    for (GenerationConfig c : cfgs) {
      sequential.add(gen.generate("seq " + c.seed(), c).generatedTokens());
    }
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<GenerationResult>> futures = new ArrayList<>();
      for (GenerationConfig c : cfgs) {
        futures.add(pool.submit(() -> gen.generate("seq " + c.seed(), c)));
      }
      for (int i = 0; i < cfgs.size(); i++) {
        assertArrayEquals(sequential.get(i), futures.get(i).get().generatedTokens(), "generation " + i);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void badPromptsAndMismatchedVocabulariesAreRejected() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> gen.generate("", GenerationConfig.greedy(3)));
    assertTrue(e.getMessage().contains("no BOS"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> gen.generate((String) null, GenerationConfig.greedy(3)));
    Tokenizer big = new Tokenizer() {
      @Override
      public int vocabSize() {
        return 300;
      }

      @Override
      public int[] encode(byte[] bytes) {
        return ByteTokenizer.instance().encode(bytes);
      }

      @Override
      public byte[] decode(int[] ids) {
        return ByteTokenizer.instance().decode(ids);
      }

      @Override
      public String name() {
        return "big";
      }
    };
    e = assertThrows(IllegalArgumentException.class, () -> new Generator(model, big));
    assertTrue(e.getMessage().contains("smaller than the tokenizer"), e.getMessage());
  }
}
