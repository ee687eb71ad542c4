package dev.iteralite.tokenizer;

import java.util.Arrays;

/** A binary min-heap of {@code long} values. */
final class LongHeap {
  private long[] heap = new long[16];
  private int size;

  boolean isEmpty() {
    return size == 0;
  }

  void clear() {
    size = 0;
  }

  void push(long v) {
    if (size == heap.length) {
      heap = Arrays.copyOf(heap, size * 2);
    }
    int i = size++;
    while (i > 0) {
      int p = (i - 1) >>> 1;
      if (heap[p] <= v) {
        break;
      }
      heap[i] = heap[p];
      i = p;
    }
    heap[i] = v;
  }

  long pop() {
    long top = heap[0];
    long last = heap[--size];
    int i = 0;
    while (true) {
      int c = 2 * i + 1;
      if (c >= size) {
        break;
      }
      if (c + 1 < size && heap[c + 1] < heap[c]) {
        c++;
      }
      if (heap[c] >= last) {
        break;
      }
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = last;
    return top;
  }
}
