package dev.iteralite.serve;

import static dev.iteralite.serve.ServerTestSupport.json;
import static dev.iteralite.serve.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.iteralite.backend.Backends;
import dev.iteralite.checkpoint.Checkpoint;
import dev.iteralite.generate.GenerationConfig;
import dev.iteralite.generate.Generator;
import dev.iteralite.model.QuantizedModel;
import dev.iteralite.model.TransformerConfig;
import dev.iteralite.model.TransformerModel;
import dev.iteralite.quant.WeightFormat;
import dev.iteralite.tensor.DType;
import dev.iteralite.tokenizer.ByteTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --format} after a Transformer checkpoint serves its compressed weights. */
class ServeCompressedTransformerTest {
  @Test
  void compressedTransformerIsServedThroughTheQuantisedKernels(@TempDir Path tmp) throws Exception {
    TransformerConfig c = TransformerConfig.builder(256, 64, 2).hiddenDim(96).heads(4).kvHeads(2).seqLen(64).build();
    String expected;
    String f32Text;
    try (TransformerModel m = new TransformerModel(Backends.cpu(), c, DType.F32, 5)) {
      // Larger weights than the N(0, 0.02^2) initialisation, so greedy text varies and the formats differ in it.
      float[] w = m.parameters().values().toFloatArray();
      for (int i = 0; i < w.length; i++) {
        w[i] *= 10;
      }
      m.parameters().values().copyFrom(w);
      Checkpoint.save(tmp.resolve("run"), m, ByteTokenizer.instance());
      try (QuantizedModel q = QuantizedModel.quantize(m, WeightFormat.Q4_0)) {
        expected = new Generator(q, ByteTokenizer.instance()).generate("abc", GenerationConfig.greedy(12)).text();
      }
      f32Text = new Generator(m, ByteTokenizer.instance()).generate("abc", GenerationConfig.greedy(12)).text();
    }
    assertNotEquals(f32Text, expected, "this seed's Q4_0 and F32 texts differ, so the comparison below can tell them apart");
    List<AutoCloseable> owned = new ArrayList<>();
    try (InferenceServer s = ServeMain.start(new String[] {"--checkpoint", tmp.resolve("run").toString(), "--name", "tf",
        "--format", "q4_0", "--port", "0"}, owned)) {
      JsonNode r = json(post(s, "/generate", "{\"model\":\"tf-q4_0\",\"prompt\":\"abc\",\"max_tokens\":12,\"temperature\":0}"));
      assertEquals(expected, r.get("text").asText(), "the Q4_0 weights are what is served");
    } finally {
      for (AutoCloseable o : owned) {
        o.close();
      }
    }
  }
}
