package dev.iteralite.checkpoint;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.model.DecodeSession;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.model.PrecisionPlan;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tokenizer.ByteTokenizer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompressedCheckpointTest {
  private static IteraLiteModel model() {
    // one dense and one MoE block; dt_proj (K = 4) stays F32
    IteraLiteConfig c = IteraLiteConfig.builder(256, 64, 2).moeEvery(2).experts(3).topK(2).ffnHidden(128).dtRank(4).build();
    return new IteraLiteModel(Backends.cpu(), c, DType.F32, 7);
  }

  private static float[][] decode(DecodeSession s) {
    float[][] out = new float[6][];
    out[0] = s.prefill(new int[] {10, 20, 30}).clone();
    for (int t = 1; t < out.length; t++) {
      out[t] = s.step(40 + t).clone();
    }
    return out;
  }

  @Test
  void mixedPrecisionModelRoundTripsExactlyAndSmaller(@TempDir Path tmp) throws IOException {
    long before = NativeMemory.unreleasedBytes();
    PrecisionPlan plan = PrecisionPlan.builder(WeightFormat.Q8_0).rule(".*\\.moe\\..*", WeightFormat.Q4_0)
        .rule("embed\\.weight", WeightFormat.INT8).build();
    float[][] want;
    Path f32Dir;
    Path qDir;
    try (IteraLiteModel m = model(); QuantizedModel q = QuantizedModel.quantize(m, plan)) {
      f32Dir = Checkpoint.save(tmp.resolve("f32"), m, ByteTokenizer.instance());
      qDir = Checkpoint.save(tmp.resolve("q"), q, ByteTokenizer.instance());
      try (DecodeSession s = q.newSession()) {
        want = decode(s);
      }
    }
    long f32Bytes = Files.size(f32Dir.resolve(Checkpoint.MODEL_FILE));
    long qBytes = Files.size(qDir.resolve(Checkpoint.MODEL_FILE));
    assertTrue(qBytes < f32Bytes / 3, "compressed weights " + qBytes + " bytes vs F32 " + f32Bytes);
    try (Checkpoint.Loaded loaded = Checkpoint.load(tmp.resolve("q"), Backends.cpu())) {
      QuantizedModel q = assertInstanceOf(QuantizedModel.class, loaded.model());
      assertEquals(WeightFormat.Q4_0, q.formatOf("blocks.1.moe.w2.2"));
      assertEquals(WeightFormat.INT8, q.formatOf("embed.weight"));
      assertEquals(WeightFormat.Q8_0, q.formatOf("blocks.0.mixer.in_proj.weight"));
      assertEquals(WeightFormat.F32, q.formatOf("blocks.0.mixer.dt_proj.weight"));
      try (DecodeSession s = q.newSession()) {
        float[][] got = decode(s);
        for (int t = 0; t < want.length; t++) {
          assertArrayEquals(want[t], got[t], "step " + t + ": the stored blocks are the quantised ones, bit for bit");
        }
      }
    }
    assertEquals(before, NativeMemory.unreleasedBytes(), "closing the loaded checkpoint frees the model it built");
  }

  @Test
  void corruptOrMismatchedBlocksAreRejectedWithTheTensorsName(@TempDir Path tmp) throws IOException {
    Path dir;
    try (IteraLiteModel m = model(); QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q8_0)) {
      dir = Checkpoint.save(tmp.resolve("q"), q, ByteTokenizer.instance());
    }
    Path weights = dir.resolve(Checkpoint.MODEL_FILE);
    // an fp16 scale of +infinity in the first block of the first compressed matrix
    long dataStart;
    try (FileChannel ch = FileChannel.open(weights, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(len, 0);
      dataStart = 8 + len.getLong(0);
      long offset;
      try (Safetensors.Reader r = Safetensors.open(weights)) {
        offset = r.info("embed.weight").begin();
      }
      ch.write(ByteBuffer.wrap(new byte[] {0x00, 0x7c}), dataStart + offset);
    }
    long before = NativeMemory.unreleasedBytes();
    IOException e = assertThrows(IOException.class, () -> Checkpoint.load(dir, Backends.cpu()));
    assertTrue(e.getMessage().contains("embed.weight"), e.getMessage());
    assertEquals(before, NativeMemory.unreleasedBytes(), "a failed load frees what it built");
  }

  // ------------------------------------------------------------------ Transformer

  @Test
  void compressedTransformerRoundTripsExactly(@TempDir Path tmp) throws IOException {
    long before = NativeMemory.unreleasedBytes();
    // separate classifier; dim 64 and hidden 96 suit 32-weight blocks
    TransformerConfig c = TransformerConfig.builder(256, 64, 2).hiddenDim(96).heads(4).kvHeads(2).seqLen(16)
        .sharedClassifier(false).build();
    PrecisionPlan plan = PrecisionPlan.builder(WeightFormat.Q8_0).rule(".*\\.ffn\\..*", WeightFormat.Q4_0)
        .rule("output", WeightFormat.BF16).rule("layers\\.1\\.attn\\.wo", WeightFormat.F32).build();
    float[][] want;
    Path qDir;
    try (TransformerModel m = new TransformerModel(Backends.cpu(), c, DType.F32, 9);
        QuantizedModel q = QuantizedModel.quantize(m, plan)) {
      qDir = Checkpoint.save(tmp.resolve("q"), q, ByteTokenizer.instance());
      try (DecodeSession s = q.newSession()) {
        want = decode(s);
      }
    }
    String config = Files.readString(qDir.resolve(Checkpoint.CONFIG_FILE));
    assertTrue(config.matches("(?s).*\"compressed\"\\s*:\\s*true.*") && config.contains("\"precision_plan\""), config);
    try (Checkpoint.Loaded loaded = Checkpoint.load(tmp.resolve("q"), Backends.cpu())) {
      QuantizedModel q = assertInstanceOf(QuantizedModel.class, loaded.model());
      assertInstanceOf(TransformerModel.class, q.model());
      assertEquals(WeightFormat.Q8_0, q.formatOf("tok_embeddings"));
      assertEquals(WeightFormat.Q8_0, q.formatOf("layers.0.attn.wk"));
      assertEquals(WeightFormat.Q4_0, q.formatOf("layers.1.ffn.w2"));
      assertEquals(WeightFormat.BF16, q.formatOf("output"));
      assertEquals(WeightFormat.F32, q.formatOf("layers.1.attn.wo"));
      try (DecodeSession s = q.newSession()) {
        float[][] got = decode(s);
        for (int t = 0; t < want.length; t++) {
          assertArrayEquals(want[t], got[t], "step " + t + ": the stored blocks are the quantised ones, bit for bit");
        }
      }
    }
    assertEquals(before, NativeMemory.unreleasedBytes(), "closing the loaded checkpoint frees the model it built");
  }
}
