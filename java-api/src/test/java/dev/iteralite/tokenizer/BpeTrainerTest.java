package dev.iteralite.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class BpeTrainerTest {
  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void learnsTheTextbookMerges() {
    // One pre-token. Pairs (overlapping): aa 4, ab 2, others 1 -> merge (a,a)=256; "aaab" -> [aa]ab.
    // Then [aa]a 2 and ab 2 tie: the smaller left id wins, (97,98)=257. Then ([aa],[ab]) 2 = 258.
    // Everything left occurs once: minPairCount 2 stops.
    BpeTokenizer t = BpeTrainer.train(ascii("aaabdaaabac"), 100);
    assertArrayEquals(new int[] {'a', 'a', 256}, t.mergeLefts());
    assertArrayEquals(new int[] {'a', 'b', 257}, t.mergeRights());
    assertEquals(259, t.vocabSize());
    assertArrayEquals(new int[] {258, 'd', 258, 'a', 'c'}, t.encode(ascii("aaabdaaabac")));
    assertEquals("aaab", new String(t.tokenBytes(258), StandardCharsets.UTF_8));
  }

  @Test
  void mergesDoNotCrossWordBoundaries() {
    // Pre-tokens "ab", " ab", " ab", "." : ab 3 then (' ', ab) 2; never (b, ' ') or (b, '.').
    BpeTokenizer t = BpeTrainer.train(ascii("ab ab ab."), 100, 1);
    assertArrayEquals(new int[] {'a', ' '}, t.mergeLefts());
    assertArrayEquals(new int[] {'b', 256}, t.mergeRights());
    assertArrayEquals(new int[] {256, 257, 257, '.'}, t.encode(ascii("ab ab ab.")));
  }

  @Test
  void respectsTheMergeLimitAndIsDeterministic() {
    byte[] corpus = ascii("the cat sat on the mat, the end. 1234 1234 hello hello world\n\n  x");
    BpeTokenizer a = BpeTrainer.train(corpus, 5);
    assertEquals(5, a.mergeCount());
    assertEquals(a, BpeTrainer.train(corpus, 5));
    assertEquals(0, BpeTrainer.train(corpus, 0).mergeCount());
    assertEquals(0, BpeTrainer.train(new byte[0], 10).mergeCount());
  }

  @Test
  void matchesANaiveTrainer() {
    Random rnd = new Random(7);
    String[] words = {"the", "then", "there", "other", "ther", "he", "a", "an", "and", "ant", "1990", "19", "...", "--"};
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 3000; i++) {
      sb.append(words[(int) Math.abs(rnd.nextGaussian() * 4) % words.length]);
      sb.append(rnd.nextInt(10) == 0 ? "\n" : " ");
    }
    byte[] corpus = ascii(sb.toString());
    for (int minCount : new int[] {1, 2, 5}) {
      BpeTokenizer fast = BpeTrainer.train(corpus, 60, minCount);
      int[][] naive = naiveTrain(corpus, 60, minCount);
      assertArrayEquals(naive[0], fast.mergeLefts(), "left ids, minCount " + minCount);
      assertArrayEquals(naive[1], fast.mergeRights(), "right ids, minCount " + minCount);
    }
  }

  /** Recounts every pair before every merge; same tie-break (count, then left id, then right id). */
  private static int[][] naiveTrain(byte[] corpus, int merges, int minCount) {
    List<int[]> words = new ArrayList<>();
    PreTokenizer.split(corpus, 0, corpus.length, (f, t) -> {
      int[] w = new int[t - f];
      for (int i = f; i < t; i++) {
        w[i - f] = corpus[i] & 0xFF;
      }
      words.add(w);
    });
    List<Integer> ls = new ArrayList<>();
    List<Integer> rs = new ArrayList<>();
    for (int r = 0; r < merges; r++) {
      TreeMap<Long, Long> counts = new TreeMap<>();
      for (int[] w : words) {
        for (int i = 0; i + 1 < w.length; i++) {
          counts.merge(LongIntMap.pair(w[i], w[i + 1]), 1L, Long::sum);
        }
      }
      long bestKey = -1;
      long bestCount = 0;
      for (var e : counts.entrySet()) { // ascending key = (left, right) order: keep the first max
        if (e.getValue() > bestCount) {
          bestCount = e.getValue();
          bestKey = e.getKey();
        }
      }
      if (bestCount < minCount || bestKey < 0) {
        break;
      }
      int a = (int) (bestKey >>> 32);
      int b = (int) bestKey;
      ls.add(a);
      rs.add(b);
      for (int k = 0; k < words.size(); k++) {
        int[] w = words.get(k);
        int[] o = new int[w.length];
        int n = 0;
        for (int i = 0; i < w.length; ) {
          if (i + 1 < w.length && w[i] == a && w[i + 1] == b) {
            o[n++] = 256 + r;
            i += 2;
          } else {
            o[n++] = w[i++];
          }
        }
        words.set(k, Arrays.copyOf(o, n));
      }
    }
    return new int[][] {
      ls.stream().mapToInt(Integer::intValue).toArray(), rs.stream().mapToInt(Integer::intValue).toArray()
    };
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(IllegalArgumentException.class, () -> BpeTrainer.train((byte[]) null, 1));
    assertThrows(IllegalArgumentException.class, () -> BpeTrainer.train(new byte[1], -1));
    assertThrows(IllegalArgumentException.class, () -> BpeTrainer.train(new byte[1], 1, 0));
    assertThrows(IllegalArgumentException.class, () -> new BpeTokenizer(new int[] {256}, new int[] {0}));
    assertThrows(IllegalArgumentException.class, () -> new BpeTokenizer(new int[] {1, 1}, new int[] {2, 2}));
    assertThrows(IllegalArgumentException.class, () -> new BpeTokenizer(new int[] {1}, new int[0]));
    BpeTokenizer t = new BpeTokenizer(new int[] {'a'}, new int[] {'b'});
    assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {257}));
    assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {-1}));
    assertNotEquals(t, BpeTrainer.train(ascii("xyxy"), 1, 1));
  }
}
