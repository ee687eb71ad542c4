package dev.iteralite.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.nn.Init;
import dev.iteralite.nn.Parameter;
import dev.iteralite.nn.ParameterSet;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path dir;

  private static float[] randomFloats(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] f = new float[n];
    for (int i = 0; i < n; i++) {
      f[i] = (float) r.nextGaussian();
    }
    f[0] = Float.intBitsToFloat(0x7fc00123); // a NaN payload must survive byte for byte
    f[1] = -0.0f;
    return f;
  }

  @Test
  void roundTripKeepsEveryTypeShapeValueAndMetadataExactly() throws IOException {
    Path file = dir.resolve("all.safetensors");
    float[] f = randomFloats(35, 1);
    double[] d = {Math.PI, -1e300, Double.MIN_VALUE};
    int[] ints = {Integer.MIN_VALUE, -1, 0, 7, Integer.MAX_VALUE};
    ByteBuffer i64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MIN_VALUE).putLong(42).flip();
    ByteBuffer f16 = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3C00).putShort((short) 0xC000)
        .putShort((short) 0x7BFF).flip();
    ByteBuffer bf16 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putShort((short) 0x3F80).putShort((short) 0xBF80).flip();
    ByteBuffer u8 = ByteBuffer.wrap(new byte[] {0, 1, (byte) 255});
    try (Tensor tf = Tensor.of(f, 5, 7); Tensor td = Tensor.ofDoubles(d, 3); Tensor ti = Tensor.ofInts(ints, 5);
        Tensor scalar = Tensor.of(new float[] {2.5f}); Tensor empty = Tensor.allocate(DType.F32, 0, 4)) {
      Safetensors.writer().metadata("format", "pt").metadata("note", "ünïcode")
          .add("f32", tf).add("f64", td).add("i32", ti).add("scalar", scalar).add("empty", empty)
          .add("i64", SafetensorsDType.I64, new long[] {2}, i64)
          .add("f16", SafetensorsDType.F16, new long[] {3}, f16)
          .add("bf16", SafetensorsDType.BF16, new long[] {1, 2}, bf16)
          .add("u8", SafetensorsDType.U8, new long[] {3}, u8)
          .write(file);
    }
    try (Safetensors.Reader r = Safetensors.open(file)) {
      assertEquals(Map.of("format", "pt", "note", "ünïcode"), r.metadata());
      assertEquals(List.of("f32", "f64", "i32", "scalar", "empty", "i64", "f16", "bf16", "u8"),
          r.tensors().stream().map(Safetensors.TensorInfo::name).toList());
      assertEquals(0, r.info("f32").begin());
      try (Tensor tf = r.toTensor("f32"); Tensor td = r.toTensor("f64"); Tensor ti = r.toTensor("i32");
          Tensor s = r.toTensor("scalar"); Tensor e = r.toTensor("empty")) {
        assertArrayEquals(new long[] {5, 7}, tf.shape());
        float[] back = tf.toFloatArray();
        for (int i = 0; i < f.length; i++) {
          assertEquals(Float.floatToRawIntBits(f[i]), Float.floatToRawIntBits(back[i]), "element " + i);
        }
        assertArrayEquals(d, td.toDoubleArray());
        assertArrayEquals(ints, ti.toIntArray());
        assertArrayEquals(new long[0], s.shape());
        assertEquals(2.5f, s.toFloatArray()[0]);
        assertArrayEquals(new long[] {0, 4}, e.shape());
      }
      ByteBuffer b = r.bytes("i64");
      assertEquals(Long.MIN_VALUE, b.getLong(0));
      assertEquals(42, b.getLong(8));
      assertEquals((short) 0xC000, r.bytes("f16").getShort(2));
      assertEquals((short) 0xBF80, r.bytes("bf16").getShort(2));
      assertEquals((byte) 255, r.bytes("u8").get(2));
      // F16/BF16 load into native storage tensors too.
      try (Tensor h = r.toTensor("bf16")) {
        assertEquals(DType.BF16, h.dtype());
      }
      assertThrows(IllegalArgumentException.class, () -> r.toTensor("u8"));
      IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> r.info("nope"));
      assertTrue(missing.getMessage().contains("nope"), missing.getMessage());
      try (Tensor wrong = Tensor.allocate(DType.F32, 7, 5)) {
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class, () -> r.readInto("f32", wrong));
        assertTrue(shape.getMessage().contains("f32") && shape.getMessage().contains("[5, 7]"), shape.getMessage());
      }
    }
    // The header is padded with spaces so that the data starts 8-byte aligned.
    ByteBuffer raw = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    long n = raw.getLong(0);
    assertEquals(0, (8 + n) % 8);
    byte[] all = Files.readAllBytes(file);
    assertEquals('{', all[8]);
  }

  @Test
  void writerRejectsBadInput() {
    assertThrows(IllegalArgumentException.class,
        () -> Safetensors.writer().add("x", SafetensorsDType.F32, new long[] {3}, ByteBuffer.allocate(8)));
    try (Tensor t = Tensor.of(new float[] {1, 2}, 2)) {
      Safetensors.Writer w = Safetensors.writer().add("x", t);
      assertThrows(IllegalArgumentException.class, () -> w.add("x", t));
      assertThrows(IllegalArgumentException.class, () -> w.add(Safetensors.METADATA_KEY, t));
      assertThrows(IllegalArgumentException.class, () -> w.add("", t));
    }
    try (Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2)) {
      Tensor strided = t.view(0, new long[] {2}, new long[] {2});
      assertThrows(IllegalArgumentException.class, () -> Safetensors.writer().add("s", strided));
    }
    try (Tensor q = Tensor.allocate(DType.I4, 4)) {
      assertThrows(IllegalArgumentException.class, () -> Safetensors.writer().add("q", q));
    }
  }

  // ------------------------------------------------------------------ corruption paths

  /** A file from a raw header string (padding applied) and data bytes. */
  private Path raw(String header, int dataBytes) throws IOException {
    return rawWithLength(header, dataBytes, -1);
  }

  private Path rawWithLength(String header, int dataBytes, long announced) throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(announced >= 0 ? announced : h.length).put(h);
    Path f = Files.createTempFile(dir, "bad", ".safetensors");
    Files.write(f, b.array());
    return f;
  }

  private void assertCorrupt(Path file, String... fragments) {
    IOException e = assertThrows(IOException.class, () -> Safetensors.open(file).close());
    for (String s : fragments) {
      assertTrue(e.getMessage().contains(s), "message '" + e.getMessage() + "' lacks '" + s + "'");
    }
  }

  @Test
  void everyCorruptionIsRejectedWithAMessageNamingTheProblem() throws IOException {
    Path tiny = dir.resolve("tiny");
    Files.write(tiny, new byte[] {1, 2, 3});
    assertCorrupt(tiny, "shorter than the 8-byte");
    assertCorrupt(rawWithLength("{}", 0, 1L << 40), "outside");
    assertCorrupt(rawWithLength("{\"a\":1}", 0, 4000), "truncated");
    assertCorrupt(raw("[1,2]", 0), "does not start with '{'");
    assertCorrupt(raw("{\"a\": {\"dtype\": \"F32\"", 0), "not valid JSON");
    String ok = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    assertCorrupt(raw("{\"a\":" + ok + ",\"a\":" + ok + "}", 4), "duplicate tensor name 'a'");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F99\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor 'a'", "unknown dtype 'F99'");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor 'a'", "missing 'shape'");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor 'a'", "missing 'data_offsets'");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4), "unknown field 'x'");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4), "tensor 'a'", "shape");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4), "tensor 'a'", "non-integer");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4), "tensor 'a'", "expected 2");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4), "tensor 'a'", "needs 8 bytes");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4), "tensor 'a'", "end before");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4), "tensor 'a'", "reach past");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "overlaps");
    assertCorrupt(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "tensor 'a'", "belong to no tensor");
    assertCorrupt(raw("{\"a\":" + ok + "}", 12), "8 bytes after the last tensor");
    assertCorrupt(raw("{\"__metadata__\":{\"k\":1}}", 0), "metadata value 'k' is not a string");
    assertCorrupt(raw("{\"a\":" + ok + "} x", 4), "not valid JSON");
    assertCorrupt(raw("{\"a\":" + ok + "} {}", 4), "after the JSON object");
    assertCorrupt(raw("{\"a\":[1]}", 0), "tensor 'a'", "not an object");
    // Valid: an empty header object, spaces as padding, and metadata only.
    try (Safetensors.Reader r = Safetensors.open(raw("{\"__metadata__\":{\"k\":\"v\"}}      ", 0))) {
      assertTrue(r.tensors().isEmpty());
      assertEquals("v", r.metadata().get("k"));
    }
  }

  @Test
  void truncatedWrittenFileIsRejected() throws IOException {
    Path file = dir.resolve("t.safetensors");
    try (Tensor t = Tensor.of(randomFloats(64, 2), 64)) {
      Safetensors.writer().add("w", t).write(file);
    }
    byte[] all = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(all, all.length - 3));
    assertCorrupt(file, "tensor 'w'", "reach past");
  }

  // ------------------------------------------------------------------ parameter sets

  @Test
  void parameterSetRoundTripIsBitExactAndMismatchesAreNamed() throws IOException {
    long live = NativeMemory.unreleasedBytes();
    Path file = dir.resolve("model.safetensors");
    IteraLiteConfig c = IteraLiteConfig.builder(20, 16, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(24).build();
    try (IteraLiteModel a = new IteraLiteModel(Backends.reference(), c, DType.F32, 1);
        IteraLiteModel b = new IteraLiteModel(Backends.reference(), c, DType.F32, 2)) {
      Safetensors.saveParameters(file, a.parameters(), Map.of("k", "v"));
      assertFalse(java.util.Arrays.equals(a.parameters().values().toFloatArray(), b.parameters().values().toFloatArray()));
      Safetensors.loadParameters(file, b.parameters());
      for (Parameter p : a.parameters().parameters()) {
        float[] x = p.value().toFloatArray();
        float[] y = b.parameters().get(p.name()).value().toFloatArray();
        for (int i = 0; i < x.length; i++) {
          assertEquals(Float.floatToRawIntBits(x[i]), Float.floatToRawIntBits(y[i]), p.name() + "[" + i + "]");
        }
      }
    }
    // Another architecture: missing and unexpected tensors, each named.
    ParameterSet.Builder decl = ParameterSet.builder();
    decl.add("embed.weight", Init.zeros(), true, 20, 16);
    decl.add("other", Init.zeros(), true, 3);
    try (ParameterSet ps = decl.build(DType.F32, 0)) {
      IOException e = assertThrows(IOException.class, () -> Safetensors.loadParameters(file, ps));
      assertTrue(e.getMessage().contains("missing tensor 'other'"), e.getMessage());
      assertTrue(e.getMessage().contains("unexpected tensor(s) the model has no parameter for: 'blocks.0.norm1.weight'"),
          e.getMessage());
    }
    ParameterSet.Builder shaped = ParameterSet.builder();
    shaped.add("w", Init.zeros(), true, 4, 2);
    try (ParameterSet ps = shaped.build(DType.F32, 0); Tensor t = Tensor.allocate(DType.F32, 2, 4)) {
      Path f2 = dir.resolve("w.safetensors");
      Safetensors.writer().add("w", t).write(f2);
      IOException e = assertThrows(IOException.class, () -> Safetensors.loadParameters(f2, ps));
      assertTrue(e.getMessage().contains("tensor 'w' has shape [2, 4] but the model declares [4, 2]"), e.getMessage());
    }
    ParameterSet.Builder typed = ParameterSet.builder();
    typed.add("w", Init.zeros(), true, 2, 4);
    try (ParameterSet ps = typed.build(DType.F32, 0); Tensor t = Tensor.allocate(DType.F64, 2, 4)) {
      Path f3 = dir.resolve("w64.safetensors");
      Safetensors.writer().add("w", t).write(f3);
      IOException e = assertThrows(IOException.class, () -> Safetensors.loadParameters(f3, ps));
      assertTrue(e.getMessage().contains("tensor 'w' is F64"), e.getMessage());
    }
    assertEquals(live, NativeMemory.unreleasedBytes());
  }
}
