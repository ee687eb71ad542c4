package dev.iteralite.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Token files: round trips in both widths, atomic writing, header fields, corrupt and truncated files, mapping. */
class TokenFileTest {
  @TempDir Path dir;

  private static int[] randomIds(int n, int vocab, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = r.nextInt(vocab);
    }
    return ids;
  }

  private void assertRoundTrip(int vocab, int bytesPerId) throws IOException {
    int[] ids = randomIds(10_000, vocab, vocab);
    ids[0] = 0;
    ids[1] = vocab - 1;
    Path f = dir.resolve("v" + vocab + ".tok");
    TokenFile.write(f, ids, vocab, "test-tokenizer", 12345);
    try (TokenFile t = TokenFile.open(f)) {
      assertEquals(bytesPerId, t.bytesPerId());
      assertEquals(ids.length, t.size());
      assertEquals(vocab, t.vocabSize());
      assertEquals("test-tokenizer", t.tokenizerName());
      assertEquals(12345, t.sourceBytes());
      assertEquals(0, t.headerLength() % 64);
      assertEquals(t.headerLength() + (long) ids.length * bytesPerId, Files.size(f));
      assertArrayEquals(ids, t.toIntArray());
      assertEquals(ids[7777], t.get(7777));
      int[] part = new int[100];
      t.read(5000, part, 0, 100);
      for (int i = 0; i < 100; i++) {
        assertEquals(ids[5000 + i], part[i]);
      }
      t.verify();
    }
  }

  @Test
  void roundTripUint16() throws IOException {
    assertRoundTrip(256, 2);
    assertRoundTrip(65536, 2);
  }

  @Test
  void roundTripInt32() throws IOException {
    assertRoundTrip(65537, 4);
    assertRoundTrip(Integer.MAX_VALUE, 4);
  }

  @Test
  void emptyFileAndLongUnicodeName() throws IOException {
    Path f = dir.resolve("empty.tok");
    String name = "bpe-ünïcode-" + "x".repeat(100);
    TokenFile.write(f, new int[0], 10, name, -1);
    try (TokenFile t = TokenFile.open(f)) {
      assertEquals(0, t.size());
      assertEquals(name, t.tokenizerName());
      assertEquals(-1, t.sourceBytes());
      assertEquals(0, t.toIntArray().length);
      t.verify();
    }
  }

  @Test
  void writerIsAtomicAndCleansUp() throws IOException {
    Path f = dir.resolve("a.tok");
    TokenFile.write(f, new int[] {1, 2, 3}, 4, "old", 3);
    try (TokenFile.Writer w = TokenFile.create(f, 4, "new")) {
      w.append(new int[] {3, 3});
      assertEquals(2, w.count());
      // not committed: the target still holds the old file
      try (TokenFile t = TokenFile.open(f)) {
        assertEquals("old", t.tokenizerName());
      }
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(List.of(f), files.toList(), "an uncommitted writer leaves no temporary file");
    }
    try (TokenFile.Writer w = TokenFile.create(f, 4, "new")) {
      w.append(new int[] {0, 1, 2, 3, 9}, 1, 3).sourceBytes(7).commit();
      assertThrows(IllegalStateException.class, () -> w.append(new int[] {1}));
    }
    try (TokenFile t = TokenFile.open(f)) {
      assertEquals("new", t.tokenizerName());
      assertArrayEquals(new int[] {1, 2, 3}, t.toIntArray());
      assertEquals(7, t.sourceBytes());
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertEquals(1, files.count());
    }
  }

  @Test
  void writerRejectsBadInput() throws IOException {
    Path f = dir.resolve("b.tok");
    try (TokenFile.Writer w = TokenFile.create(f, 10, "t")) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> w.append(new int[] {1, 10}));
      assertTrue(e.getMessage().contains("outside [0, 10)"), e.getMessage());
      assertThrows(IllegalArgumentException.class, () -> w.append(new int[] {-1}));
      assertEquals(0, w.count());
    }
    assertThrows(IllegalArgumentException.class, () -> TokenFile.create(f, 0, "t"));
    assertThrows(IllegalArgumentException.class, () -> TokenFile.create(f, 10, "x".repeat(2000)));
    assertFalse(Files.exists(f));
  }

  private Path written(String name, int n, int vocab) throws IOException {
    Path f = dir.resolve(name);
    TokenFile.write(f, randomIds(n, vocab, 1), vocab, "t", n);
    return f;
  }

  private static IOException openFails(Path f, String expected) {
    IOException e = assertThrows(IOException.class, () -> TokenFile.open(f));
    assertTrue(e.getMessage().contains(expected), "message '" + e.getMessage() + "' should contain '" + expected + "'");
    return e;
  }

  private static void patch(Path f, long offset, byte[] bytes) throws IOException {
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.seek(offset);
      raf.write(bytes);
    }
  }

  private static byte[] le16(int v) {
    return ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort((short) v).array();
  }

  @Test
  void truncatedFilesAreRejected() throws IOException {
    Path f = written("t.tok", 1000, 300);
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(raf.length() - 1);
    }
    openFails(f, "truncated");
    try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
      raf.setLength(20);
    }
    openFails(f, "truncated");
    Path g = written("g.tok", 10, 300);
    try (RandomAccessFile raf = new RandomAccessFile(g.toFile(), "rw")) {
      raf.setLength(60);
    }
    openFails(g, "truncated");
    Path h = written("h.tok", 10, 300);
    Files.write(h, new byte[] {0, 0}, java.nio.file.StandardOpenOption.APPEND);
    openFails(h, "bytes after");
  }

  @Test
  void corruptHeadersAreRejected() throws IOException {
    Path f = written("m.tok", 100, 300);
    patch(f, 0, new byte[] {'X'});
    openFails(f, "not an Itera-Lite token file");

    Path v = written("v.tok", 100, 300);
    patch(v, 8, new byte[] {2});
    openFails(v, "version 2");

    Path c = written("c.tok", 100, 300);
    patch(c, 24, new byte[] {(byte) 0xFF}); // vocabulary size changed without fixing the CRC
    openFails(c, "CRC32 mismatch");

    Path n = dir.resolve("not.tok");
    Files.writeString(n, "hello, this is plain text and certainly not a token file at all");
    openFails(n, "not an Itera-Lite token file");
  }

  @Test
  void outOfRangeIdsAndDataCorruption() throws IOException {
    Path f = written("r.tok", 1000, 300);
    int header;
    try (TokenFile t = TokenFile.open(f)) {
      header = t.headerLength();
    }
    patch(f, header + 2L * 500, le16(400));
    openFails(f, "outside the vocabulary");

    Path g = dir.resolve("d.tok");
    int[] ids = randomIds(1000, 300, 3);
    TokenFile.write(g, ids, 300, "t", 0);
    patch(g, header + 2L * 500, le16((ids[500] + 1) % 300)); // still in range: only the CRC notices
    try (TokenFile t = TokenFile.open(g)) {
      IOException e = assertThrows(IOException.class, t::verify);
      assertTrue(e.getMessage().contains("CRC32"), e.getMessage());
    }
  }

  @Test
  void closedFileRefusesReads() throws IOException {
    TokenFile t = TokenFile.open(written("x.tok", 10, 300));
    t.close();
    t.close();
    assertThrows(IllegalStateException.class, () -> t.get(0));
    try (TokenFile again = TokenFile.open(t.path())) {
      assertThrows(IndexOutOfBoundsException.class, () -> again.get(10));
      assertThrows(IndexOutOfBoundsException.class, () -> again.read(5, new int[10], 0, 6));
    }
  }

  @Test
  void largeFileAcrossSeveralMappings() throws IOException {
    int n = 6_000_000;
    for (int vocab : new int[] {50_000, 100_000}) {
      int[] ids = new int[n];
      for (int i = 0; i < n; i++) {
        ids[i] = (int) ((i * 2654435761L) % vocab);
      }
      Path f = dir.resolve("large" + vocab + ".tok");
      TokenFile.write(f, ids, vocab, "t", n);
      // regions of ~1 MB that are not a power of two, so reads cross mapping boundaries at odd places
      try (TokenFile t = TokenFile.open(f, 1_000_003)) {
        assertTrue(t.mappingCount() > 10, "several mappings: " + t.mappingCount());
        assertArrayEquals(ids, t.toIntArray());
        SplittableRandom r = new SplittableRandom(5);
        int[] buf = new int[5000];
        for (int k = 0; k < 200; k++) {
          int start = r.nextInt(n - buf.length);
          int len = 1 + r.nextInt(buf.length);
          t.read(start, buf, 0, len);
          for (int i = 0; i < len; i++) {
            if (buf[i] != ids[start + i]) {
              assertEquals(ids[start + i], buf[i], "id " + (start + i));
            }
          }
          assertEquals(ids[start], t.get(start));
        }
        t.verify();
      }
      try (TokenFile t = TokenFile.open(f)) {
        assertEquals(1, t.mappingCount());
        assertEquals(ids[n - 1], t.get(n - 1));
      }
    }
  }

  @Test
  void tokenizeFileIsLosslessForAnyBytes() throws IOException {
    byte[] bytes = new byte[3000];
    new SplittableRandom(9).nextBytes(bytes); // invalid UTF-8 almost surely
    Path text = dir.resolve("in.bin");
    Files.write(text, bytes);
    try (TokenFile t = TokenFiles.tokenizeFile(text, ByteTokenizer.instance(), dir.resolve("in.tok"))) {
      assertEquals("byte", t.tokenizerName());
      assertEquals(bytes.length, t.sourceBytes());
      assertEquals(2, t.bytesPerId());
      assertArrayEquals(bytes, ByteTokenizer.instance().decode(t.toIntArray()));
    }
  }

  @Test
  void tokenizeDocumentsAppendsTheSeparator() throws IOException {
    TextCorpus c = new TextCorpus("c", List.of("ab", "é"), 0);
    try (TokenFile t = TokenFiles.tokenizeDocuments(c, "\n\n", ByteTokenizer.instance(), dir.resolve("d.tok"))) {
      assertEquals("ab\n\né\n\n", ByteTokenizer.instance().decodeToString(t.toIntArray()));
      assertEquals(8, t.sourceBytes());
    }
  }
}
