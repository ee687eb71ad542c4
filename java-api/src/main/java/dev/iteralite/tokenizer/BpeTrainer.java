package dev.iteralite.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Learns byte-level BPE merges from a corpus with the standard incremental algorithm.
 *
 * <p>The corpus is cut into pre-tokens once (see {@link BpeTokenizer}; merges never cross a
 * pre-token boundary) and the distinct pre-tokens are counted. Pair counts (weighted by pre-token
 * frequency) live in a hash map, a priority queue with lazy invalidation finds the most frequent
 * pair, and a pair → pre-tokens index means each merge only revisits the pre-tokens that contain
 * the merged pair. Ties are broken deterministically: the higher count wins, then the smaller left
 * id, then the smaller right id. Within a pre-token a merge joins occurrences left to right without
 * overlap (so {@code aaa} becomes {@code [aa]a}), exactly as encoding does. Training stops after the
 * requested number of merges or when the best pair occurs fewer than {@code minPairCount} times.
 */
public final class BpeTrainer {
  private BpeTrainer() {}

  /** {@link #train(byte[], int, int)} with {@code minPairCount = 2}. */
  public static BpeTokenizer train(byte[] corpus, int merges) {
    return train(corpus, merges, 2);
  }

  /** Trains on the bytes of a file; see {@link #train(byte[], int, int)}. */
  public static BpeTokenizer train(Path corpus, int merges) throws IOException {
    if (corpus == null) {
      throw new IllegalArgumentException("bpe trainer: corpus path must not be null");
    }
    return train(Files.readAllBytes(corpus), merges, 2);
  }

  /**
   * Learns at most {@code merges} merges from {@code corpus}.
   *
   * @param merges maximum number of merges ({@code >= 0}); the vocabulary is 256 plus the merges
   *     learned
   * @param minPairCount stop once the most frequent pair occurs fewer times than this ({@code >= 1})
   * @throws IllegalArgumentException on a null corpus or out-of-range options
   */
  public static BpeTokenizer train(byte[] corpus, int merges, int minPairCount) {
    if (corpus == null) {
      throw new IllegalArgumentException("bpe trainer: corpus must not be null");
    }
    if (merges < 0 || merges > Integer.MAX_VALUE - 256) {
      throw new IllegalArgumentException("bpe trainer: merges must be in [0, 2^31 - 257), got " + merges);
    }
    if (minPairCount < 1) {
      throw new IllegalArgumentException("bpe trainer: minPairCount must be >= 1, got " + minPairCount);
    }
    return new Run(corpus).train(merges, minPairCount);
  }

  /** Pair statistics: weighted count and the words that may contain the pair. */
  private static final class Pair {
    final int a;
    final int b;
    long count;
    int[] words = new int[4];
    int nWords;

    Pair(int a, int b) {
      this.a = a;
      this.b = b;
    }

    void addWord(int w) {
      if (nWords > 0 && words[nWords - 1] == w) {
        return;
      }
      if (nWords == words.length) {
        words = Arrays.copyOf(words, nWords * 2);
      }
      words[nWords++] = w;
    }
  }

  /** A queue entry: a snapshot of a pair's count (stale when the count has changed since). */
  private static final class Entry {
    final Pair pair;
    final long count;

    Entry(Pair pair, long count) {
      this.pair = pair;
      this.count = count;
    }
  }

  private static final class Run {
    final int[][] words;
    final int[] lengths;
    final long[] freq;
    final HashMap<Long, Pair> pairs = new HashMap<>();
    final PriorityQueue<Entry> queue =
        new PriorityQueue<>((x, y) -> {
          if (x.count != y.count) {
            return Long.compare(y.count, x.count);
          }
          if (x.pair.a != y.pair.a) {
            return Integer.compare(x.pair.a, y.pair.a);
          }
          return Integer.compare(x.pair.b, y.pair.b);
        });

    Run(byte[] corpus) {
      Map<Bytes, long[]> counts = new HashMap<>();
      PreTokenizer.split(corpus, 0, corpus.length, (from, to) -> {
        if (to - from < 2) {
          return; // a single byte has no pair
        }
        counts.computeIfAbsent(Bytes.copyOf(corpus, from, to), k -> new long[1])[0]++;
      });
      List<Bytes> keys = new ArrayList<>(counts.keySet());
      keys.sort(null); // deterministic word order
      words = new int[keys.size()][];
      lengths = new int[keys.size()];
      freq = new long[keys.size()];
      for (int w = 0; w < words.length; w++) {
        byte[] k = keys.get(w).data;
        int[] s = new int[k.length];
        for (int i = 0; i < k.length; i++) {
          s[i] = k[i] & 0xFF;
        }
        words[w] = s;
        lengths[w] = s.length;
        freq[w] = counts.get(keys.get(w))[0];
      }
      for (int w = 0; w < words.length; w++) {
        int[] s = words[w];
        for (int i = 0; i + 1 < s.length; i++) {
          Pair p = pair(s[i], s[i + 1]);
          p.count += freq[w];
          p.addWord(w);
        }
      }
      for (Pair p : pairs.values()) {
        queue.add(new Entry(p, p.count));
      }
    }

    Pair pair(int a, int b) {
      return pairs.computeIfAbsent(LongIntMap.pair(a, b), k -> new Pair(a, b));
    }

    BpeTokenizer train(int merges, int minPairCount) {
      IntList lefts = new IntList(Math.min(merges, 1 << 16));
      IntList rights = new IntList(Math.min(merges, 1 << 16));
      int[] seen = new int[words.length];
      int stamp = 0;
      HashMap<Long, long[]> delta = new HashMap<>();
      int r = 0;
      while (r < merges) {
        Entry e = queue.poll();
        if (e == null) {
          break;
        }
        Pair best = e.pair;
        if (e.count != best.count) {
          if (e.count > best.count && best.count > 0) {
            queue.add(new Entry(best, best.count)); // count fell since: requeue the true count
          }
          continue; // (a smaller stale count: a fresher entry is queued)
        }
        if (best.count < minPairCount) {
          break;
        }
        int id = 256 + r;
        lefts.add(best.a);
        rights.add(best.b);
        r++;
        stamp++;
        delta.clear();
        int[] affected = Arrays.copyOf(best.words, best.nWords);
        for (int w : affected) {
          if (seen[w] == stamp) {
            continue;
          }
          seen[w] = stamp;
          applyMerge(w, best.a, best.b, id, delta);
        }
        for (Map.Entry<Long, long[]> d : delta.entrySet()) {
          long change = d.getValue()[0];
          if (change == 0) {
            continue;
          }
          Pair p = pairs.get(d.getKey());
          p.count += change;
          if (change > 0) {
            queue.add(new Entry(p, p.count));
          }
        }
        pairs.remove(LongIntMap.pair(best.a, best.b));
      }
      return new BpeTokenizer(lefts.toArray(), rights.toArray());
    }

    private void applyMerge(int w, int a, int b, int id, HashMap<Long, long[]> delta) {
      int[] s = words[w];
      int n = lengths[w];
      boolean found = false;
      for (int i = 0; i + 1 < n; i++) {
        if (s[i] == a && s[i + 1] == b) {
          found = true;
          break;
        }
      }
      if (!found) {
        return; // a stale index entry
      }
      long f = freq[w];
      for (int i = 0; i + 1 < n; i++) {
        delta.computeIfAbsent(LongIntMap.pair(s[i], s[i + 1]), k -> new long[1])[0] -= f;
      }
      int out = 0;
      for (int i = 0; i < n; ) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
          s[out++] = id;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      lengths[w] = out;
      for (int i = 0; i + 1 < out; i++) {
        long key = LongIntMap.pair(s[i], s[i + 1]);
        delta.computeIfAbsent(key, k -> new long[1])[0] += f;
        if (s[i] == id || s[i + 1] == id) {
          pair(s[i], s[i + 1]).addWord(w);
        }
      }
    }
  }
}
