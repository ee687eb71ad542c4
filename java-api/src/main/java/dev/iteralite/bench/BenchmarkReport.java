package dev.iteralite.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * Everything one benchmark run produced — the system, the models, the kernels and the roofline
 * they were judged against — and its JSON form ({@code target/itera/benchmark.json}). The schema
 * is documented field by field in {@code java-api/BENCHMARK-SCHEMA.md}; unknown numbers are
 * written as {@code null}, never as invented values.
 *
 * @param createdAt when the run finished
 * @param system the machine and software
 * @param roofline the measured ceilings, or null when no kernels were measured
 * @param models model results, in run order
 * @param kernels kernel results, in run order
 */
public record BenchmarkReport(Instant createdAt, SystemInfo system, Roofline roofline, List<ModelResult> models,
    List<KernelResult> kernels) {

  /** The schema version written as {@code schemaVersion}; bumped when a field changes meaning or goes away. */
  public static final int SCHEMA_VERSION = 1;

  private static final ObjectMapper MAPPER = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  /** Copies the lists; rejects nulls except {@code roofline}. */
  public BenchmarkReport {
    Objects.requireNonNull(createdAt, "createdAt");
    Objects.requireNonNull(system, "system");
    models = List.copyOf(models);
    kernels = List.copyOf(kernels);
  }

  /** The report as a JSON tree (see BENCHMARK-SCHEMA.md). */
  public ObjectNode toJsonTree() {
    ObjectNode root = MAPPER.createObjectNode();
    root.put("schemaVersion", SCHEMA_VERSION);
    root.put("createdAt", createdAt.toString());
    root.set("system", system(system));
    if (roofline == null) {
      root.putNull("roofline");
    } else {
      ObjectNode r = root.putObject("roofline");
      num(r, "peakGflops", roofline.peakGflops());
      num(r, "bandwidthGbps", roofline.bandwidthGbps());
      num(r, "ridgeIntensity", roofline.ridgeIntensity());
      r.put("gemmSize", roofline.gemmSize());
      r.put("copyBytes", roofline.copyBytes());
    }
    ArrayNode ms = root.putArray("models");
    for (ModelResult m : models) {
      ms.add(model(m));
    }
    ArrayNode ks = root.putArray("kernels");
    for (KernelResult k : kernels) {
      ks.add(kernel(k));
    }
    return root;
  }

  /** The report as indented JSON text. */
  public String toJson() {
    try {
      return MAPPER.writeValueAsString(toJsonTree());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Writes the JSON to {@code file} (parent folders created; written to a temporary file, then moved into place). */
  public void write(Path file) throws IOException {
    Objects.requireNonNull(file, "file");
    Path abs = file.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp");
    Files.writeString(tmp, toJson() + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
  }

  private static ObjectNode system(SystemInfo s) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("cpuModel", s.cpuModel());
    strings(o.putArray("cpuFlags"), s.cpuFlags());
    strings(o.putArray("kernelCpuFeatures"), s.kernelCpuFeatures());
    o.put("maxIsa", s.maxIsa());
    o.put("logicalCores", s.logicalCores());
    count(o, "totalMemoryBytes", s.totalMemoryBytes());
    o.put("maxHeapBytes", s.maxHeapBytes());
    o.put("jdkVendor", s.jdkVendor());
    o.put("jdkVersion", s.jdkVersion());
    o.put("os", s.os());
    o.put("backend", s.backend());
    o.put("threads", s.threads());
    o.put("iteraLiteVersion", s.iteraLiteVersion());
    o.put("javacppVersion", s.javacppVersion());
    o.put("openblasConfig", s.openblasConfig());
    strings(o.putArray("notes"), s.notes());
    return o;
  }

  private static ObjectNode model(ModelResult m) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("name", m.name());
    o.put("architecture", m.architecture());
    o.put("params", m.params());
    o.put("bytes", m.bytes());
    count(o, "flopsPerToken", m.flopsPerToken());
    num(o, "prefillTokensPerSec", m.prefillTokensPerSec());
    num(o, "decodeTokensPerSec", m.decodeTokensPerSec());
    num(o, "latencyP50Ms", m.latencyP50Ms());
    num(o, "latencyP95Ms", m.latencyP95Ms());
    count(o, "peakRssBytes", m.peakRssBytes());
    num(o, "perplexity", m.perplexity());
    num(o, "bitsPerByte", m.bitsPerByte());
    // extras
    o.put("promptTokens", m.promptTokens());
    o.put("decodeTokens", m.decodeTokens());
    o.put("context", m.context());
    o.put("warmupRounds", m.warmupRounds());
    o.put("measuredRounds", m.decode().samples());
    o.set("prefillSpread", spread(m.prefill()));
    o.set("decodeSpread", spread(m.decode()));
    num(o, "decodeGflops", m.decodeGflops());
    o.put("peakRssScope", m.peakRssScope());
    o.put("peakNativeBytes", m.peakNativeBytes());
    num(o, "cpuUtilisation", m.cpuUtilisation());
    o.put("evalTokens", m.evalTokens());
    EnergyResult e = m.energy();
    ObjectNode en = o.putObject("energy");
    en.put("available", e.available());
    num(en, "joules", e.joules());
    num(en, "joulesPerToken", e.joulesPerToken());
    num(en, "watts", e.watts());
    num(en, "seconds", e.seconds());
    en.put("tokens", e.tokens());
    strings(en.putArray("domains"), e.domains());
    if (e.available()) {
      en.putNull("reason");
    } else {
      en.put("reason", e.reason());
    }
    return o;
  }

  private static ObjectNode kernel(KernelResult k) {
    ObjectNode o = MAPPER.createObjectNode();
    o.put("name", k.name());
    o.put("shape", k.shape());
    num(o, "medianNs", k.medianNs());
    num(o, "gflops", k.gflops());
    num(o, "gbps", k.gbps());
    num(o, "rooflineFraction", k.rooflineFraction());
    // extras
    o.set("nsSpread", spread(k.nanos()));
    o.put("flops", k.flops());
    o.put("bytes", k.bytes());
    num(o, "intensity", k.intensity());
    num(o, "rooflineGflops", k.rooflineGflops());
    return o;
  }

  private static ObjectNode spread(Spread s) {
    ObjectNode o = MAPPER.createObjectNode();
    num(o, "min", s.min());
    num(o, "q1", s.q1());
    num(o, "median", s.median());
    num(o, "q3", s.q3());
    num(o, "max", s.max());
    o.put("samples", s.samples());
    return o;
  }

  private static void num(ObjectNode o, String field, double v) {
    if (Double.isFinite(v)) {
      o.put(field, v);
    } else {
      o.putNull(field);
    }
  }

  private static void count(ObjectNode o, String field, long v) {
    if (v >= 0) {
      o.put(field, v);
    } else {
      o.putNull(field);
    }
  }

  private static void strings(ArrayNode a, List<String> values) {
    values.forEach(a::add);
  }
}
