package dev.iteralite.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class RoundTripTest {
  static final byte[] CORPUS = ("The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!\n"
      + "Numbers 12345 and 2024-01-01, tabs\tand  double  spaces.\n\nÜnïcödé wörds: naïve café 東京 🙂🙂\n")
      .repeat(20).getBytes(StandardCharsets.UTF_8);

  /** Random byte strings: empty, pure random (invalid UTF-8), text mixed with stray bytes, long runs. */
  static List<byte[]> samples() {
    Random rnd = new Random(42);
    List<byte[]> out = new ArrayList<>();
    out.add(new byte[0]);
    out.add(new byte[] {0});
    out.add(new byte[] {(byte) 0xFF, (byte) 0xFE, (byte) 0x80, (byte) 0xC0, (byte) 0xED, (byte) 0xA0, (byte) 0x80});
    out.add(new byte[] {(byte) 0xF0, (byte) 0x9F, (byte) 0x99}); // truncated 4-byte sequence
    out.add(" ".getBytes(StandardCharsets.UTF_8));
    out.add("  leading spaces and trailing  \n".getBytes(StandardCharsets.UTF_8));
    out.add("a".repeat(3000).getBytes(StandardCharsets.UTF_8));
    for (int i = 0; i < 200; i++) {
      byte[] b = new byte[rnd.nextInt(300)];
      if (i % 2 == 0) {
        rnd.nextBytes(b);
      } else {
        for (int k = 0; k < b.length; k++) {
          b[k] = rnd.nextInt(8) == 0 ? (byte) rnd.nextInt(256) : CORPUS[rnd.nextInt(CORPUS.length)];
        }
      }
      out.add(b);
    }
    return out;
  }

  static void assertLossless(Tokenizer t) {
    for (byte[] b : samples()) {
      int[] ids = t.encode(b);
      for (int id : ids) {
        assertTrue(id >= 0 && id < t.vocabSize(), t.name() + ": id " + id + " out of range");
      }
      assertArrayEquals(b, t.decode(ids), t.name() + ": round trip");
    }
    assertEquals(0, t.encode(new byte[0]).length);
  }

  @Test
  void byteTokenizerIsLossless() {
    assertLossless(ByteTokenizer.instance());
  }

  @Test
  void bpeIsLosslessAndCompresses() {
    BpeTokenizer t = BpeTrainer.train(CORPUS, 200);
    assertLossless(t);
    assertTrue(t.encode(CORPUS).length < CORPUS.length / 3, "BPE should compress its own corpus");
    assertLossless(BpeTrainer.train(new byte[0], 10));
  }

  @Test
  void bpeIsThreadSafe() throws Exception {
    BpeTokenizer t = BpeTrainer.train(CORPUS, 200);
    List<byte[]> s = samples();
    List<int[]> expected = new ArrayList<>();
    for (byte[] b : s) {
      expected.add(t.encode(b));
    }
    BpeTokenizer fresh = new BpeTokenizer(t.mergeLefts(), t.mergeRights());
    Thread[] threads = new Thread[4];
    Throwable[] failure = new Throwable[1];
    for (int k = 0; k < threads.length; k++) {
      threads[k] = new Thread(() -> {
        try {
          for (int i = 0; i < s.size(); i++) {
            assertArrayEquals(expected.get(i), fresh.encode(s.get(i)));
          }
        } catch (Throwable e) {
          failure[0] = e;
        }
      });
      threads[k].start();
    }
    for (Thread th : threads) {
      th.join();
    }
    if (failure[0] != null) {
      throw new AssertionError(failure[0]);
    }
  }

  @Test
  void llama2cIsLossless() {
    assertLossless(Llama2cTokenizerTest.synthetic());
  }

  @Test
  void charTokenizerIsLosslessOnKnownCharactersOnly() {
    CharTokenizer t = CharTokenizer.train(CORPUS);
    assertArrayEquals(CORPUS, t.decode(t.encode(CORPUS)));
    String s = "the café 東京 🙂";
    assertEquals(s, t.decodeToString(t.encode(s)));
    assertEquals(s.codePointCount(0, s.length()), t.encode(s).length);
    // Unknown character and invalid bytes: one unknown token each, decoded as U+FFFD.
    assertArrayEquals(new int[] {CharTokenizer.UNK}, t.encode("€"));
    int[] bad = t.encode(new byte[] {'a', (byte) 0xFF, (byte) 0xC3, 'b', (byte) 0xED, (byte) 0xA0, (byte) 0x80});
    // a | FF | C3 (not followed by a continuation byte) | b | ED (A0 is not allowed after ED) | A0 | 80
    assertEquals(7, bad.length);
    assertEquals("a\uFFFD\uFFFDb\uFFFD\uFFFD\uFFFD", t.decodeToString(bad));
    for (byte[] b : samples()) {
      int[] ids = t.encode(b);
      for (int id : ids) {
        assertTrue(id >= 0 && id < t.vocabSize());
      }
      t.decode(ids);
    }
    assertEquals(CharTokenizer.of(new int[] {'b', 'a', 'a'}).vocabSize(), 3);
    assertThrows(IllegalArgumentException.class, () -> CharTokenizer.of(new int[] {0xD800}));
    assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {t.vocabSize()}));
  }

  @Test
  void wordTokenizerFollowsTheWikiTextConventions() {
    byte[] corpus = " = Title = \n the cat sat on the mat \n \n the <unk> cat \n".getBytes(StandardCharsets.UTF_8);
    WordTokenizer t = WordTokenizer.train(corpus, 1, Integer.MAX_VALUE);
    // Counts: the 3, cat 2, = 2, mat 1, on 1, sat 1, Title 1 (ties in byte order: "=" < "Title" < "mat" < ...).
    assertEquals(List.of("<unk>", "<eos>", "the", "=", "cat", "Title", "mat", "on", "sat"), words(t));
    int[] ids = t.encode(" the dog sat \n".getBytes(StandardCharsets.UTF_8));
    assertArrayEquals(new int[] {2, WordTokenizer.UNK, 8, WordTokenizer.EOS}, ids);
    assertEquals("the <unk> sat\n", t.decodeToString(ids));
    assertArrayEquals(t.encode(corpus), t.encode(t.decode(t.encode(corpus))));
    // min count and max size
    assertEquals(List.of("<unk>", "<eos>", "the", "=", "cat"), words(WordTokenizer.train(corpus, 2, 100)));
    assertEquals(List.of("<unk>", "<eos>", "the"), words(WordTokenizer.train(corpus, 1, 3)));
    assertEquals(WordTokenizer.UNK, t.idOf("<unk>"));
    assertThrows(IllegalArgumentException.class, () -> WordTokenizer.train(corpus, 0, 10));
    assertThrows(IllegalArgumentException.class, () -> WordTokenizer.train(corpus, 1, 1));
    assertThrows(IllegalArgumentException.class, () -> WordTokenizer.of(List.of("a", "a")));
    assertThrows(IllegalArgumentException.class, () -> WordTokenizer.of(List.of("a b")));
    assertThrows(IllegalArgumentException.class, () -> WordTokenizer.of(List.of("<eos>")));
    assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {99}));
    // any bytes encode
    for (byte[] b : samples()) {
      t.decode(t.encode(b));
    }
  }

  private static List<String> words(WordTokenizer t) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < t.vocabSize(); i++) {
      out.add(t.word(i));
    }
    return out;
  }
}
