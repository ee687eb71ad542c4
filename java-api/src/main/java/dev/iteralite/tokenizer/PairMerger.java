package dev.iteralite.tokenizer;

/**
 * Applies pair merges to a symbol sequence in priority order: repeatedly merges the adjacent pair
 * with the lowest rank, the leftmost one on ties, until no adjacent pair has a merge. A heap over
 * (rank, position) with lazy invalidation makes this O(n log n) instead of O(n²).
 */
final class PairMerger {
  private PairMerger() {}

  /**
   * Merges {@code ids} in place and returns the new length.
   *
   * @param pairToId merged id for {@link LongIntMap#pair(int, int)}, or -1
   * @param rankOf rank of each merged id (lower merges first; equal ranks merge leftmost first)
   */
  static int merge(int[] ids, int n, LongIntMap pairToId, int[] rankOf) {
    if (n < 2) {
      return n;
    }
    int[] next = new int[n];
    int[] prev = new int[n];
    boolean[] dead = new boolean[n];
    LongHeap heap = new LongHeap();
    for (int i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    for (int i = 0; i + 1 < n; i++) {
      int m = pairToId.get(LongIntMap.pair(ids[i], ids[i + 1]));
      if (m >= 0) {
        heap.push(((long) rankOf[m] << 32) | i);
      }
    }
    int remaining = n;
    while (!heap.isEmpty()) {
      long top = heap.pop();
      int rank = (int) (top >>> 32);
      int i = (int) top;
      if (dead[i] || next[i] < 0) {
        continue;
      }
      int j = next[i];
      int m = pairToId.get(LongIntMap.pair(ids[i], ids[j]));
      if (m < 0 || rankOf[m] != rank) {
        continue;
      }
      ids[i] = m;
      dead[j] = true;
      remaining--;
      next[i] = next[j];
      if (next[j] >= 0) {
        prev[next[j]] = i;
      }
      if (prev[i] >= 0) {
        int m2 = pairToId.get(LongIntMap.pair(ids[prev[i]], m));
        if (m2 >= 0) {
          heap.push(((long) rankOf[m2] << 32) | prev[i]);
        }
      }
      if (next[i] >= 0) {
        int m3 = pairToId.get(LongIntMap.pair(m, ids[next[i]]));
        if (m3 >= 0) {
          heap.push(((long) rankOf[m3] << 32) | i);
        }
      }
    }
    int w = 0;
    for (int i = 0; i < n; i++) {
      if (!dead[i]) {
        ids[w++] = ids[i];
      }
    }
    assert w == remaining;
    return w;
  }
}
