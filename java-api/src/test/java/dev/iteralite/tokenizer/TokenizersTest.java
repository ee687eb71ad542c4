package dev.iteralite.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizersTest {
  static List<Tokenizer> all() {
    return List.of(
        ByteTokenizer.instance(),
        BpeTrainer.train(RoundTripTest.CORPUS, 100),
        WordTokenizer.train(RoundTripTest.CORPUS, 1, 1000),
        CharTokenizer.train(RoundTripTest.CORPUS),
        Llama2cTokenizerTest.synthetic());
  }

  @Test
  void saveLoadGivesAnEqualTokenizer(@TempDir Path dir) throws IOException {
    for (Tokenizer t : all()) {
      Path f = dir.resolve(t.name() + ".tok");
      Tokenizers.save(t, f);
      Tokenizer back = Tokenizers.load(f);
      assertEquals(t.getClass(), back.getClass());
      assertEquals(t, back, t.name());
      assertEquals(t.name(), back.name());
      assertEquals(t.vocabSize(), back.vocabSize());
      for (byte[] b : RoundTripTest.samples().subList(0, 40)) {
        assertArrayEquals(t.encode(b), back.encode(b), t.name());
      }
      Tokenizers.save(back, f); // overwrite
      assertArrayEquals(Tokenizers.toBytes(t), Files.readAllBytes(f));
      try (var s = Files.list(dir)) {
        assertTrue(s.noneMatch(p -> p.toString().endsWith(".tmp")), "no temporary file is left behind");
      }
    }
    assertSame(ByteTokenizer.instance(), Tokenizers.load(dir.resolve("byte.tok")));
  }

  @Test
  void everyTruncationAndEveryFlippedByteIsAnIOException() {
    for (Tokenizer t : all()) {
      byte[] good = Tokenizers.toBytes(t);
      int step = Math.max(1, good.length / 300);
      for (int n = 0; n < good.length; n += step) {
        byte[] cut = java.util.Arrays.copyOf(good, n);
        assertThrows(IOException.class, () -> Tokenizers.fromBytes(cut, "cut"), t.name() + " cut at " + n);
      }
      for (int i = 0; i < good.length; i += step) {
        byte[] bad = good.clone();
        bad[i] ^= 0x5A;
        assertThrows(IOException.class, () -> Tokenizers.fromBytes(bad, "flipped"), t.name() + " byte " + i);
      }
    }
  }

  /** A file with a valid checksum around the given header fields and payload. */
  static byte[] file(int version, String type, byte[] payload) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(buf);
    out.write("ITERATOK".getBytes(StandardCharsets.US_ASCII));
    out.writeInt(version);
    out.writeInt(type.length());
    out.write(type.getBytes(StandardCharsets.US_ASCII));
    out.writeInt(payload.length);
    out.write(payload);
    CRC32 crc = new CRC32();
    crc.update(buf.toByteArray());
    out.writeInt((int) crc.getValue());
    return buf.toByteArray();
  }

  private static byte[] ints(int... vs) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(buf);
    for (int v : vs) {
      out.writeInt(v);
    }
    return buf.toByteArray();
  }

  private static String error(byte[] data) {
    return assertThrows(IOException.class, () -> Tokenizers.fromBytes(data, "test")).getMessage();
  }

  @Test
  void errorsNameTheProblem() throws IOException {
    assertTrue(error("hello".getBytes(StandardCharsets.US_ASCII)).contains("not a tokenizer file"));
    assertTrue(error(file(2, "bpe", ints(0))).contains("version 2"));
    assertTrue(error(file(1, "gpt9", new byte[0])).contains("unknown tokenizer type"));
    assertTrue(error(file(1, "bpe", ints(1, 300, 0))).contains("outside"), error(file(1, "bpe", ints(1, 300, 0))));
    assertTrue(error(file(1, "bpe", ints(5, 1, 2))).contains("merge count"));
    assertTrue(error(file(1, "bpe", ints(0, 7))).contains("unexpected bytes"));
    assertTrue(error(file(1, "char", ints(2, 'b', 'a'))).contains("ascending"));
    byte[] oneWord = java.util.Arrays.copyOf(ints(1, 1), 9);
    oneWord[8] = 'x';
    assertTrue(error(file(1, "word", oneWord)).contains("<unk>"));
    assertTrue(error(file(1, "llama2c", ints(7, 3, 0, 0, 0, 0, 0, 0))).contains("259"));
    assertTrue(error(file(1, "byte", ints(1))).contains("unexpected bytes"));
    assertEquals(ByteTokenizer.instance(), Tokenizers.fromBytes(file(1, "byte", new byte[0]), "ok"));
    byte[] good = Tokenizers.toBytes(ByteTokenizer.instance());
    byte[] flipped = good.clone();
    flipped[flipped.length - 1] ^= 1;
    assertTrue(error(flipped).contains("checksum"));
    assertThrows(IllegalArgumentException.class, () -> Tokenizers.toBytes(new Tokenizer() {
      @Override
      public int vocabSize() {
        return 1;
      }

      @Override
      public int[] encode(byte[] bytes) {
        return new int[0];
      }

      @Override
      public byte[] decode(int[] ids) {
        return new byte[0];
      }

      @Override
      public String name() {
        return "custom";
      }
    }));
  }

  @Test
  void missingFileIsAnIOException(@TempDir Path dir) {
    assertThrows(IOException.class, () -> Tokenizers.load(dir.resolve("absent.tok")));
  }
}
