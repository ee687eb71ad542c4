package dev.iteralite.tokenizer;

import dev.iteralite.testing.TestData;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cTokenizerTest {
  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A small vocabulary in tokenizer.bin layout: specials, 256 byte tokens, then scored pieces. */
  static Llama2cTokenizer synthetic() {
    String[] extra = {" ", "a", "b", "c", "ab", " a", " ab", "abc", "bc", "é", " é", "aa", "aaa", "e", "th", "the", " the", "Ü"};
    List<byte[]> pieces = new ArrayList<>();
    List<Float> scores = new ArrayList<>();
    pieces.add(utf8("<unk>"));
    pieces.add(utf8("\n<s>\n"));
    pieces.add(utf8("\n</s>\n"));
    for (int b = 0; b < 256; b++) {
      pieces.add(utf8(String.format("<0x%02X>", b)));
    }
    for (int i = 0; i < 3 + 256; i++) {
      scores.add(0f);
    }
    for (int i = 0; i < extra.length; i++) {
      pieces.add(utf8(extra[i]));
      scores.add(i % 5 == 0 ? -3f : -(float) i); // some equal scores: leftmost must win
    }
    float[] s = new float[scores.size()];
    for (int i = 0; i < s.length; i++) {
      s[i] = scores.get(i);
    }
    return new Llama2cTokenizer(4, s, pieces.toArray(new byte[0][]));
  }

  /**
   * llama2.c's run.c {@code encode}, transcribed literally (string lookup over the ordinary pieces,
   * O(n²) best-score merge loop with strict {@code >}), as the reference for the fast encoder.
   */
  static int[] referenceEncode(Llama2cTokenizer t, byte[] text, boolean bos, boolean eos) {
    Map<String, Integer> lookup = new HashMap<>();
    for (int i = t.vocabSize() - 1; i >= 259; i--) {
      lookup.put(new String(t.piece(i), StandardCharsets.ISO_8859_1), i);
    }
    List<Integer> tokens = new ArrayList<>();
    if (bos) {
      tokens.add(1);
    }
    if (text.length > 0) {
      tokens.add(lookup.get(" "));
    }
    int strLen = 0;
    byte[] buf = new byte[8];
    for (int c = 0; c < text.length; c++) {
      if ((text[c] & 0xC0) != 0x80) {
        strLen = 0;
      }
      buf[strLen++] = text[c];
      if (c + 1 < text.length && (text[c + 1] & 0xC0) == 0x80 && strLen < 4) {
        continue;
      }
      Integer id = lookup.get(new String(buf, 0, strLen, StandardCharsets.ISO_8859_1));
      if (id != null) {
        tokens.add(id);
      } else {
        for (int i = 0; i < strLen; i++) {
          tokens.add((buf[i] & 0xFF) + 3);
        }
      }
      strLen = 0;
    }
    while (true) {
      float bestScore = -1e10f;
      int bestId = -1;
      int bestIdx = -1;
      for (int i = 0; i < tokens.size() - 1; i++) {
        int a = tokens.get(i);
        int b = tokens.get(i + 1);
        if (a < 259 || b < 259) {
          continue; // only ordinary pieces merge (see Llama2cTokenizer)
        }
        String merged = new String(t.piece(a), StandardCharsets.ISO_8859_1)
            + new String(t.piece(b), StandardCharsets.ISO_8859_1);
        Integer id = lookup.get(merged);
        if (id != null && t.score(id) > bestScore) {
          bestScore = t.score(id);
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx == -1) {
        break;
      }
      tokens.set(bestIdx, bestId);
      tokens.remove(bestIdx + 1);
    }
    if (eos) {
      tokens.add(2);
    }
    return tokens.stream().mapToInt(Integer::intValue).toArray();
  }

  @Test
  void syntheticVocabularyMatchesTheReferenceLoop() {
    Llama2cTokenizer t = synthetic();
    Random rnd = new Random(3);
    String alphabet = "abc é the Ü\u00ff";
    for (int k = 0; k < 300; k++) {
      StringBuilder sb = new StringBuilder();
      int n = rnd.nextInt(40);
      for (int i = 0; i < n; i++) {
        sb.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
      }
      byte[] b = utf8(sb.toString());
      if (k % 3 == 0 && b.length > 0) {
        b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256); // invalid UTF-8 too
      }
      assertArrayEquals(referenceEncode(t, b, k % 2 == 0, k % 4 == 0), t.encode(b, k % 2 == 0, k % 4 == 0),
          "input " + Arrays.toString(b));
      assertArrayEquals(b, t.decode(t.encode(b, true, true)));
    }
  }

  @Test
  void decodesLikeLlama2c() {
    Llama2cTokenizer t = synthetic();
    int sp = t.pieceId(" a");
    assertArrayEquals(utf8("a"), t.decodePiece(Llama2cTokenizer.BOS, sp)); // space stripped after BOS
    assertArrayEquals(utf8(" a"), t.decodePiece(sp, sp));
    assertArrayEquals(new byte[] {'\n'}, t.decodePiece(sp, Llama2cTokenizer.BYTE_OFFSET + '\n'));
    assertArrayEquals(new byte[] {(byte) 0xFF}, t.decodePiece(Llama2cTokenizer.BOS, Llama2cTokenizer.BYTE_OFFSET + 255));
    assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {t.vocabSize()}));
    assertThrows(IllegalArgumentException.class,
        () -> new Llama2cTokenizer(1, new float[259], new byte[259][]));
  }

  @Test
  void tok512EncodesOnceUponATime() throws IOException {
    Llama2cTokenizer t = Llama2cTokenizer.fromLlama2c(TestData.require("llama2c/tok512.bin"));
    // Format facts (data README): 512 tokens, max_token_length 7, ids 3..258 byte tokens.
    assertEquals(512, t.vocabSize());
    assertEquals(7, t.maxTokenLength());
    int[] ids = t.encode(utf8("Once upon a time"), true, false);
    // Derivation: with the dummy prefix the text is " Once upon a time". Each word with its leading
    // space is a single piece of the file (" Once" 403, " upon" 407, " a" 261, " time" 378), the
    // greedy loop can only stop when no adjacent pair concatenates to a piece, and no two of these
    // words join into a piece (checked below), so the result is BOS followed by the four words.
    assertArrayEquals(new int[] {1, 403, 407, 261, 378}, ids);
    assertEquals(" Once", new String(t.piece(403), StandardCharsets.UTF_8));
    assertEquals(" upon", new String(t.piece(407), StandardCharsets.UTF_8));
    assertEquals(" a", new String(t.piece(261), StandardCharsets.UTF_8));
    assertEquals(" time", new String(t.piece(378), StandardCharsets.UTF_8));
    for (int i = 1; i + 1 < ids.length; i++) {
      String joined = new String(t.piece(ids[i]), StandardCharsets.UTF_8) + new String(t.piece(ids[i + 1]), StandardCharsets.UTF_8);
      assertEquals(-1, t.pieceId(joined), joined + " must not be a piece");
    }
    assertArrayEquals(referenceEncode(t, utf8("Once upon a time"), true, false), ids);
    assertEquals("Once upon a time", t.decodeToString(ids));
    assertArrayEquals(new int[] {1, 403, 407, 261, 378, 2}, t.encode(utf8("Once upon a time"), true, true));
    // Newline has no piece in tok512: byte fallback <0x0A> = 3 + 10, decoded as the raw byte.
    int[] nl = t.encode(utf8("Lily.\nTim"), false, false);
    assertTrue(Arrays.stream(nl).anyMatch(id -> id == 13));
    assertEquals("Lily.\nTim", t.decodeToString(nl));
  }

  @Test
  void tok512MatchesTheReferenceAndRoundTripsOnRealText() throws IOException {
    Llama2cTokenizer t = Llama2cTokenizer.fromLlama2c(TestData.require("llama2c/tok512.bin"));
    Path stories = TestData.require("tinystories/tinystories_val.txt");
    String text = Files.readString(stories);
    String[] paragraphs = text.split("\n\n");
    for (int i = 0; i < 200; i++) {
      byte[] b = utf8(paragraphs[i]);
      int[] ids = t.encode(b, true, false);
      assertArrayEquals(referenceEncode(t, b, true, false), ids, "paragraph " + i);
      assertArrayEquals(b, t.decode(ids));
    }
    byte[] all = Files.readAllBytes(stories);
    int[] ids = t.encode(all);
    assertArrayEquals(all, t.decode(ids));
    // Measured 393,018 tokens for 794,375 bytes (0.4948 tokens/byte).
    assertTrue(ids.length < all.length * 0.50, "tok512 compresses TinyStories: " + ids.length + " tokens");
    RoundTripTest.assertLossless(t);
  }

  @Test
  void llama2TokenizerBin() throws IOException {
    Llama2cTokenizer t = Llama2cTokenizer.fromLlama2c(TestData.require("llama2c/tokenizer.bin"));
    assertEquals(32000, t.vocabSize());
    assertEquals(27, t.maxTokenLength());
    // Llama 2's SentencePiece model encodes "Once upon a time" with BOS as [1, 9038, 2501, 263, 931]
    // (" Once", " upon", " a", " time"): checked here against the pieces of the file.
    int[] ids = t.encode(utf8("Once upon a time"), true, false);
    assertArrayEquals(new int[] {1, 9038, 2501, 263, 931}, ids);
    assertEquals(" Once", new String(t.piece(9038), StandardCharsets.UTF_8).replace('\u2581', ' '));
    assertEquals("Once upon a time", t.decodeToString(ids));
    RoundTripTest.assertLossless(t);
  }

  @Test
  void corruptTokenizerBinIsAClearError(@TempDir Path dir) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteBuffer head = ByteBuffer.allocate(4 + 8).order(ByteOrder.LITTLE_ENDIAN);
    head.putInt(7).putFloat(0f).putInt(1000); // a token longer than the file
    out.writeBytes(head.array());
    out.writeBytes(utf8("abc"));
    Path f = dir.resolve("bad.bin");
    Files.write(f, out.toByteArray());
    IOException e = assertThrows(IOException.class, () -> Llama2cTokenizer.fromLlama2c(f));
    assertTrue(e.getMessage().contains("token 0"), e.getMessage());
    Files.write(f, new byte[] {1, 2});
    assertThrows(IOException.class, () -> Llama2cTokenizer.fromLlama2c(f));
    // Too few tokens (no byte fallback table).
    ByteBuffer small = ByteBuffer.allocate(4 + 8 + 1).order(ByteOrder.LITTLE_ENDIAN);
    small.putInt(1).putFloat(0f).putInt(1).put((byte) 'a');
    Files.write(f, small.array());
    e = assertThrows(IOException.class, () -> Llama2cTokenizer.fromLlama2c(f));
    assertTrue(e.getMessage().contains("259"), e.getMessage());
  }
}
