package dev.iteralite.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.iteralite.backend.Backends;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JSON report: every field the schema fixes is present with its type; unknown numbers are null. */
class BenchmarkReportTest {
  @TempDir Path dir;

  static final List<String> MODEL_NUMBERS = List.of("params", "bytes", "flopsPerToken", "prefillTokensPerSec",
      "decodeTokensPerSec", "latencyP50Ms", "latencyP95Ms", "peakRssBytes", "perplexity", "bitsPerByte");
  static final List<String> KERNEL_NUMBERS = List.of("medianNs", "gflops", "gbps", "rooflineFraction");

  @Test
  void schemaFieldsArePresentAndTyped() throws Exception {
    ModelResult withEval = ModelBenchmarkTest.tinyRun(true);
    ModelResult without = ModelBenchmarkTest.tinyRun(false);
    KernelBenchmark kb = new KernelBenchmark(Backends.cpu(), KernelBenchmarkTest.FAST);
    List<KernelResult> kernels = List.of(kb.gemm(32, 32, 32), kb.copy(1 << 20));
    BenchmarkReport report = new BenchmarkReport(Instant.parse("2026-11-27T15:00:00Z"),
        SystemInfo.collect(Backends.cpu()), kb.roofline(), List.of(withEval, without), kernels);
    Path file = dir.resolve("itera/benchmark.json");
    report.write(file);
    JsonNode root = new ObjectMapper().readTree(Files.readString(file));

    assertEquals(BenchmarkReport.SCHEMA_VERSION, root.get("schemaVersion").asInt());
    assertEquals("2026-11-27T15:00:00Z", root.get("createdAt").asText());
    JsonNode sys = root.get("system");
    assertTrue(sys.isObject());
    for (String f : List.of("cpuModel", "jdkVendor", "jdkVersion", "backend", "iteraLiteVersion", "javacppVersion",
        "openblasConfig", "maxIsa", "os")) {
      assertTrue(sys.get(f).isTextual(), f + " in " + sys);
    }
    assertTrue(sys.get("logicalCores").isInt() && sys.get("logicalCores").asInt() >= 1);
    assertTrue(sys.get("totalMemoryBytes").isIntegralNumber() && sys.get("totalMemoryBytes").asLong() > 0);
    assertTrue(sys.get("cpuFlags").isArray() && sys.get("cpuFlags").size() > 0, "Linux lists CPU flags");
    assertTrue(sys.get("kernelCpuFeatures").isArray());
    assertFalse(sys.get("openblasConfig").asText().isBlank());

    JsonNode rl = root.get("roofline");
    assertTrue(rl.get("peakGflops").isDouble() && rl.get("bandwidthGbps").isDouble());

    JsonNode models = root.get("models");
    assertTrue(models.isArray());
    assertEquals(2, models.size());
    JsonNode m = models.get(0);
    assertEquals("tiny", m.get("name").asText());
    for (String f : MODEL_NUMBERS) {
      assertTrue(m.get(f).isNumber(), f + " should be a number in " + m);
      assertTrue(m.get(f).asDouble() > 0, f + " should be positive in " + m);
    }
    assertTrue(m.get("params").isIntegralNumber() && m.get("bytes").isIntegralNumber()
        && m.get("flopsPerToken").isIntegralNumber() && m.get("peakRssBytes").isIntegralNumber());
    assertTrue(m.get("decodeSpread").get("median").isDouble());
    assertEquals(m.get("decodeTokensPerSec").asDouble(), m.get("decodeSpread").get("median").asDouble(), 0);
    assertTrue(m.get("cpuUtilisation").isDouble());
    JsonNode energy = m.get("energy");
    assertTrue(energy.get("available").isBoolean());
    if (!energy.get("available").asBoolean()) {
      assertTrue(energy.get("joulesPerToken").isNull(), "no invented energy figure");
      assertFalse(energy.get("reason").asText().isBlank());
    }
    JsonNode noEval = models.get(1);
    assertTrue(noEval.has("perplexity") && noEval.get("perplexity").isNull(), "unknown perplexity is null");
    assertTrue(noEval.get("bitsPerByte").isNull());

    JsonNode ks = root.get("kernels");
    assertEquals(2, ks.size());
    for (JsonNode k : ks) {
      assertTrue(k.get("name").isTextual() && k.get("shape").isTextual());
      for (String f : KERNEL_NUMBERS) {
        assertTrue(k.get(f).isNumber(), f + " in " + k);
      }
    }
    assertEquals("gemm", ks.get(0).get("name").asText());
    assertEquals("M=32 N=32 K=32", ks.get(0).get("shape").asText());
    assertEquals(0, ks.get(1).get("gflops").asDouble(), "a copy does no arithmetic");
    assertFalse(Files.exists(dir.resolve("itera/benchmark.json.tmp")));
  }
}
