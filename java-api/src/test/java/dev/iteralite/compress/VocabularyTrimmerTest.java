package dev.iteralite.compress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import dev.iteralite.tokenizer.CharTokenizer;
import dev.iteralite.tokenizer.RemappedTokenizer;
import dev.iteralite.tokenizer.Tokenizer;
import dev.iteralite.tokenizer.Tokenizers;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VocabularyTrimmerTest {
  @TempDir Path dir;

  /** Checks the exact relation between the two models that the class documentation states. */
  private static void assertFaithful(VocabularyTrimmer.Report r) {
    assertTrue(r.maxLogitDifference() < 1e-4, "kept logits must be unchanged: " + r);
    assertEquals(0, r.greedyMismatches(), "greedy choice among kept tokens must be unchanged: " + r);
    assertTrue(r.lossAfter() <= r.lossBefore() + 1e-6, "renormalising over fewer tokens cannot raise the loss: " + r);
    assertEquals(r.renormalisationGain(), r.lossBefore() - r.lossAfter(), 2e-5,
        "the loss must fall by exactly mean -ln(1 - removed mass): " + r);
  }

  @Test
  void trainedIteraLiteOnWikiTextKeepsItsPredictionsAndCheckpoints() throws IOException {
    byte[] corpus = Arrays.copyOfRange(TrainedFixture.validBytes(), 0, 4096);
    try (IteraLiteModel m = TrainedFixture.model();
        VocabularyTrimmer.Trimmed t = VocabularyTrimmer.trim(m, ByteTokenizer.instance(), corpus, 64)) {
      VocabularyTrimmer.Report r = t.report();
      System.out.printf(Locale.ROOT, "vocab trim (byte Itera-Lite on WikiText-2 valid, 4096 bytes): %s%n", r);
      int k = r.vocabAfter();
      assertTrue(k < 256 && k > 30, "WikiText uses some but not all bytes: " + k);
      assertEquals(256, r.vocabBefore());
      assertEquals((256L - k) * 48, r.parametersBefore() - r.parametersAfter());
      assertEquals(4L * (256 - k) * 48, r.bytesSaved());
      assertEquals(k, t.model().vocabSize());
      assertEquals(r.parametersAfter(), t.model().parameters().parameterCount());
      assertEquals(4095, r.positions());
      assertFaithful(r);
      // The remapping tokenizer encodes the corpus to the trimmed ids and decodes back to the bytes.
      RemappedTokenizer tok = t.tokenizer();
      int[] ids = tok.encode(corpus);
      assertArrayEquals(corpus, tok.decode(ids));
      for (int i = 0; i < 50; i++) {
        assertEquals(corpus[i] & 0xFF, tok.toBaseId(ids[i]));
      }
      // A byte the corpus never uses cannot be encoded: the error names the id and offset.
      int unused = -1;
      for (int b = 0; b < 256 && unused < 0; b++) {
        if (tok.fromBaseId(b) < 0) {
          unused = b;
        }
      }
      byte[] bad = {'a', 'b', (byte) unused};
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tok.encode(bad));
      assertTrue(e.getMessage().contains("base token " + unused) && e.getMessage().contains("offset about 2"),
          e.getMessage());
      // Saved and loaded through the tokenizer format and a normal checkpoint.
      Tokenizer back = Tokenizers.fromBytes(Tokenizers.toBytes(tok), "memory");
      assertEquals(tok, back);
      assertArrayEquals(ids, back.encode(corpus));
      Path ck = Checkpoint.save(dir.resolve("ck"), t.model(), tok);
      try (Checkpoint.Loaded l = Checkpoint.load(ck, Backends.select())) {
        assertEquals(tok, l.tokenizer());
        int[] in = Arrays.copyOf(ids, 64);
        int[] tg = Arrays.copyOfRange(ids, 1, 65);
        assertEquals(t.model().loss(in, tg, 1), l.model().loss(in, tg, 1), 1e-6);
      }
    }
  }

  @Test
  void untiedTransformerTrimsBothEmbeddingAndHead() {
    TransformerConfig c = TransformerConfig.builder(64, 32, 2).heads(4).kvHeads(2).seqLen(64).sharedClassifier(false).build();
    SplittableRandom rnd = new SplittableRandom(3);
    int[] ids = new int[300];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = 10 + 2 * rnd.nextInt(12); // even ids 10..32 only
    }
    Tokenizer tok = chars(64);
    try (TransformerModel m = new TransformerModel(Backends.select(), c, DType.F32, 4);
        VocabularyTrimmer.Trimmed t = VocabularyTrimmer.trim(m, tok, TokenSequence.of(ids, 64), 32, 5)) {
      VocabularyTrimmer.Report r = t.report();
      assertEquals(13, r.vocabAfter()); // 12 used ids + the one kept explicitly
      assertEquals(2L * (64 - 13) * 32, r.parametersBefore() - r.parametersAfter());
      assertArrayEquals(new int[] {5, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32}, t.tokenizer().keptBaseIds());
      // Untrained: the dropped tokens hold most of the mass, so the loss falls a lot, exactly as predicted.
      assertTrue(r.renormalisationGain() > 0.5, r.toString());
      assertFaithful(r);
    }
  }

  @Test
  void badInputsAreRejectedWithReasons() {
    TransformerConfig c = TransformerConfig.builder(16, 16, 1).seqLen(16).build();
    try (TransformerModel m = new TransformerModel(Backends.select(), c, DType.F32, 4)) {
      Tokenizer tok = chars(16);
      TokenSequence seq = TokenSequence.of(new int[] {1, 2, 3, 1, 2}, 16);
      assertThrows(IllegalArgumentException.class, () -> VocabularyTrimmer.trim(m, tok, seq, 0));
      assertThrows(IllegalArgumentException.class, () -> VocabularyTrimmer.trim(m, tok, seq, 17));
      assertThrows(IllegalArgumentException.class, () -> VocabularyTrimmer.trim(m, tok, TokenSequence.of(new int[] {1}, 16), 8));
      assertThrows(IllegalArgumentException.class, () -> VocabularyTrimmer.trim(m, tok, seq, 8, 99));
      assertThrows(IllegalArgumentException.class, () -> VocabularyTrimmer.trim(m, tok, TokenSequence.of(new int[] {3, 3, 3}, 16), 8));
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> VocabularyTrimmer.trim(m, ByteTokenizer.instance(), seq, 8));
      assertTrue(e.getMessage().contains("tokenizer has 256"), e.getMessage());
    }
    assertThrows(IllegalArgumentException.class, () -> new RemappedTokenizer(ByteTokenizer.instance(), new int[] {3, 2}));
    assertThrows(IllegalArgumentException.class, () -> new RemappedTokenizer(ByteTokenizer.instance(), new int[] {300}));
    assertThrows(IllegalArgumentException.class, () -> new RemappedTokenizer(ByteTokenizer.instance(), new int[0]));
    RemappedTokenizer r = new RemappedTokenizer(ByteTokenizer.instance(), new int[] {'a', 'b'});
    assertThrows(IllegalArgumentException.class, () -> r.decode(new int[] {2}));
    assertEquals("ab", new String(r.decode(r.encode("ab".getBytes(StandardCharsets.UTF_8))), StandardCharsets.UTF_8));
  }

  /** A tokenizer with exactly {@code n} ids (unk plus n - 1 letters). */
  private static Tokenizer chars(int n) {
    return CharTokenizer.of(java.util.stream.IntStream.range(65, 65 + n - 1).toArray());
  }
}
