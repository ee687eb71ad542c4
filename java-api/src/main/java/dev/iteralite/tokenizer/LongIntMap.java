package dev.iteralite.tokenizer;

/** Open-addressing hash map from {@code long} keys to non-negative {@code int} values (absent = -1). */
final class LongIntMap {
  private long[] keys;
  private int[] values;
  private boolean[] used;
  private int size;
  private int mask;

  LongIntMap(int expected) {
    int cap = 16;
    while (cap < (long) expected * 2 && cap < (1 << 30)) {
      cap <<= 1;
    }
    alloc(cap);
  }

  private void alloc(int cap) {
    keys = new long[cap];
    values = new int[cap];
    used = new boolean[cap];
    mask = cap - 1;
    size = 0;
  }

  private static int mix(long k) {
    long h = k * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 29) ^ (h >>> 47));
  }

  int get(long key) {
    int i = mix(key) & mask;
    while (used[i]) {
      if (keys[i] == key) {
        return values[i];
      }
      i = (i + 1) & mask;
    }
    return -1;
  }

  void put(long key, int value) {
    if ((size + 1) * 2 > keys.length) {
      long[] ok = keys;
      int[] ov = values;
      boolean[] ou = used;
      alloc(keys.length * 2);
      for (int j = 0; j < ok.length; j++) {
        if (ou[j]) {
          put(ok[j], ov[j]);
        }
      }
    }
    int i = mix(key) & mask;
    while (used[i]) {
      if (keys[i] == key) {
        values[i] = value;
        return;
      }
      i = (i + 1) & mask;
    }
    used[i] = true;
    keys[i] = key;
    values[i] = value;
    size++;
  }

  int size() {
    return size;
  }

  static long pair(int a, int b) {
    return ((long) a << 32) | (b & 0xFFFFFFFFL);
  }
}
