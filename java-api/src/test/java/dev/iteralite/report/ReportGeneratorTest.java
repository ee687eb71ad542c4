package dev.iteralite.report;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backends;
import dev.iteralite.compress.CompressionReport;
import dev.iteralite.data.TokenSequence;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.train.Trainer;
import dev.iteralite.train.TrainingConfig;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The report from a real (tiny) training run's metrics CSV and a hand-written benchmark.json: every
 * chart is a decodable PNG of the configured size, the markdown's links resolve, the HTML embeds the
 * same bytes, missing inputs are named instead of drawn, and a malformed CSV is rejected by name.
 */
class ReportGeneratorTest {
  @TempDir Path dir;

  static final String BENCHMARK = """
      {
        "schemaVersion": 1,
        "createdAt": "2026-11-27T15:06:13.123Z",
        "system": {"cpuModel": "Test CPU", "logicalCores": 2, "totalMemoryBytes": 8000000000, "maxIsa": "AVX2",
                   "backend": "cpu avx2 threads=2", "threads": 2, "jdkVendor": "x", "jdkVersion": "17",
                   "os": "Linux", "iteraLiteVersion": "0.1.0-SNAPSHOT", "javacppVersion": "1.5.13",
                   "openblasConfig": "OpenBLAS", "notes": ["VmHWM unreadable in test"]},
        "roofline": {"peakGflops": 80.0, "bandwidthGbps": 10.0, "ridgeIntensity": 8.0, "gemmSize": 512, "copyBytes": 1024},
        "models": [
          {"name": "itera-tiny", "params": 1500000, "bytes": 6000000, "flopsPerToken": 3000000,
           "prefillTokensPerSec": 900.5, "decodeTokensPerSec": 300.25, "latencyP50Ms": 3.1, "latencyP95Ms": 4.2,
           "peakRssBytes": 200000000, "perplexity": 12.5, "bitsPerByte": 2.1,
           "energy": {"available": false, "joules": null, "joulesPerToken": null, "watts": null, "seconds": null,
                      "tokens": 1280, "domains": [],
                      "reason": "powercap not present: /sys/class/powercap does not exist (test machine)"}},
          {"name": "itera-tiny-q8", "params": 1500000, "bytes": 1600000, "flopsPerToken": 3000000,
           "prefillTokensPerSec": 1200.0, "decodeTokensPerSec": 410.0, "latencyP50Ms": 2.4, "latencyP95Ms": 3.0,
           "peakRssBytes": null, "perplexity": 12.9, "bitsPerByte": 2.2,
           "energy": {"available": true, "joules": 12.8, "joulesPerToken": 0.01, "watts": 25.0, "seconds": 0.5,
                      "tokens": 1280, "domains": ["package-0"], "reason": null}},
          {"name": "transformer-small", "params": 10000000, "bytes": 40000000, "flopsPerToken": 20000000,
           "prefillTokensPerSec": 300.0, "decodeTokensPerSec": 90.0, "latencyP50Ms": 11.0, "latencyP95Ms": 14.0,
           "peakRssBytes": 400000000, "perplexity": null, "bitsPerByte": null}
        ],
        "kernels": [
          {"name": "gemm", "shape": "M=512 N=512 K=512", "medianNs": 4000000, "gflops": 67.1, "gbps": 0.78,
           "rooflineFraction": 0.84, "intensity": 85.3},
          {"name": "selective_scan_forward", "shape": "L=256 E=1024 N=16", "medianNs": 900000, "gflops": 3.1,
           "gbps": 5.2, "rooflineFraction": 0.52},
          {"name": "copy", "shape": "bytes=1024", "medianNs": 100, "gflops": 0.0, "gbps": 9.5, "rooflineFraction": 0.95}
        ]
      }
      """;

  /** Trains a tiny MoE model for a few steps with a metrics CSV, as a user's run would. */
  Path trainTinyRun() {
    IteraLiteConfig cfg = IteraLiteConfig.builder(20, 16, 2).dState(4).moeEvery(2).experts(3).topK(2).ffnHidden(24).build();
    SplittableRandom r = new SplittableRandom(3);
    int[] ids = new int[6000];
    for (int i = 1; i < ids.length; i++) {
      ids[i] = r.nextDouble() < 0.1 ? r.nextInt(20) : (ids[i - 1] * 7 + 3) % 20;
    }
    Path csv = dir.resolve("run/metrics.csv");
    TrainingConfig tc = TrainingConfig.builder().seed(1).batchSize(4).seqLen(16).peakLr(1e-2).warmupSteps(2)
        .totalSteps(12).evalEvery(4).evalBatches(2).metricsCsv(csv).build();
    try (IteraLiteModel model = new IteraLiteModel(Backends.select(), cfg, DType.F32, 7);
        Trainer t = new Trainer(model, tc, TokenSequence.of(ids, 20), TokenSequence.of(ids, 20))) {
      t.run();
    }
    return csv;
  }

  @Test
  void fullReportFromRealTrainingAndBenchmark() throws Exception {
    Path csv = trainTinyRun();
    MetricsCsv parsed = MetricsCsv.read(csv);
    assertEquals(12, parsed.rows().size());
    assertNotNull(parsed.lastWithExpertLoad(), "the MoE model logs expert load");
    Path bench = dir.resolve("benchmark.json");
    Files.writeString(bench, BENCHMARK);
    Path compression = dir.resolve("compression.json");
    compressionResult().writeJson(compression);
    Path out = dir.resolve("report");
    ReportGenerator.Result r = new ReportGenerator(ReportGenerator.Options.defaults(out).withMetricsCsv(csv)
        .withBenchmarkJson(bench).withCompressionJson(compression).withChartSize(640, 400)).write();

    assertEquals(List.of(ReportGenerator.LOSS_CHART, ReportGenerator.FRONTIER_CHART, ReportGenerator.COMPRESSION_CHART,
        ReportGenerator.THROUGHPUT_CHART, ReportGenerator.ROOFLINE_CHART, ReportGenerator.EXPERT_LOAD_CHART),
        new ArrayList<>(r.charts().keySet()));
    assertTrue(r.missing().isEmpty(), "nothing missing: " + r.missing());
    for (Path png : r.charts().values()) {
      BufferedImage img = ImageIO.read(png.toFile());
      assertNotNull(img, png + " decodes as an image");
      assertEquals(640, img.getWidth(), png.toString());
      assertEquals(400, img.getHeight(), png.toString());
    }

    String md = Files.readString(r.markdown());
    Matcher links = Pattern.compile("!\\[[^\\]]*\\]\\(([^)]+)\\)").matcher(md);
    List<String> linked = new ArrayList<>();
    while (links.find()) {
      linked.add(links.group(1));
      assertTrue(Files.isRegularFile(r.markdown().getParent().resolve(links.group(1))), links.group(1) + " resolves");
    }
    assertEquals(6, linked.size(), md);
    assertTrue(md.contains("powercap not present: /sys/class/powercap does not exist (test machine)"), md);
    assertTrue(md.contains("1 of 3 models have no perplexity"), md);
    assertTrue(md.contains("80.0 GFLOP/s peak"), md);
    assertTrue(md.contains("| itera-tiny | 900.5000 |") || md.contains("| itera-tiny | 900.5 |"), md);

    String html = Files.readString(r.html());
    assertFalse(html.contains("src=\"charts/"), "the HTML must not link to files");
    Matcher imgs = Pattern.compile("data-chart=\"([^\"]+)\" src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"").matcher(html);
    int embedded = 0;
    while (imgs.find()) {
      byte[] bytes = Base64.getDecoder().decode(imgs.group(2));
      assertArrayEquals(Files.readAllBytes(r.charts().get(imgs.group(1))), bytes, imgs.group(1));
      assertNotNull(ImageIO.read(new ByteArrayInputStream(bytes)));
      embedded++;
    }
    assertEquals(6, embedded);
    assertTrue(html.contains("powercap not present"));
  }

  @Test
  void missingInputsAreNamedNotDrawn() throws Exception {
    Path csv = dir.resolve("dense.csv");
    Files.writeString(csv, String.join(",", MetricsCsv.COLUMNS) + "\n"
        + "1,64,0.001,3.0,,1.5,1000.0,0.0,\n2,128,0.002,2.8,2.9,1.2,1100.0,0.0,\n");
    ReportGenerator.Result r = new ReportGenerator(ReportGenerator.Options.defaults(dir.resolve("out"))
        .withMetricsCsv(csv).withBenchmarkJson(dir.resolve("absent.json"))).write();
    assertEquals(List.of(ReportGenerator.LOSS_CHART), new ArrayList<>(r.charts().keySet()));
    assertTrue(r.missing().get("Expert load").contains("no mixture-of-experts"), r.missing().toString());
    for (String s : List.of("Size vs perplexity", "Throughput", "Kernel roofline", "Energy", "System")) {
      assertTrue(r.missing().get(s).contains("absent.json does not exist"), s + ": " + r.missing());
    }
    assertTrue(r.missing().get("Compression").contains("no compression.json was given"), r.missing().toString());
    String md = Files.readString(r.markdown());
    assertTrue(md.contains("*Not available:*"), md);
    try (var files = Files.list(dir.resolve("out/charts"))) {
      assertEquals(1, files.count(), "only the loss chart is drawn");
    }

    ReportGenerator.Result none = new ReportGenerator(ReportGenerator.Options.defaults(dir.resolve("none"))).write();
    assertTrue(none.charts().isEmpty());
    assertTrue(none.missing().get("Training and validation loss").contains("no metrics CSV was given"));
  }

  /** A compression table as the compress goal writes it (figures made up for the layout only). */
  static CompressionReport.Result compressionResult() {
    return new CompressionReport.Result(List.of(
        new CompressionReport.Row("fp32", "baseline", 1_500_000, 6_010_000, 32.03, 1.0, 12.5, 0.0, 40.2, 2.1, 900.0,
            300.0, 1.0, 1.0),
        new CompressionReport.Row("q8_0", "quantisation", 1_500_000, 1_610_000, 8.56, 3.73, 12.6, 0.008, 40.6, 2.11,
            850.0, 410.0, 0.94, 1.37),
        new CompressionReport.Row("q4_0", "quantisation", 1_500_000, 860_000, 4.55, 6.99, 13.4, 0.072, 44.0, 2.2, 800.0,
            520.0, 0.89, 1.73),
        new CompressionReport.Row("trim|vocab", "vocabulary trimming", 1_400_000, 5_610_000, 32.03, 1.07, 12.4, -0.008,
            Double.NaN, Double.NaN, 950.0, 320.0, 1.06, 1.07)),
        Map.of("evaluation", "16 windows of 256 tokens", "timing", "prefill 128 then 128 steps"));
  }

  @Test
  void compressionSectionTabulatesEveryVariantAndChartsSizeAgainstPerplexity() throws Exception {
    Path json = dir.resolve("c/compression.json");
    compressionResult().writeJson(json);
    ReportGenerator.Result r = new ReportGenerator(ReportGenerator.Options.defaults(dir.resolve("out"))
        .withCompressionJson(json)).write();
    assertEquals(List.of(ReportGenerator.COMPRESSION_CHART), new ArrayList<>(r.charts().keySet()));
    assertNotNull(ImageIO.read(r.charts().get(ReportGenerator.COMPRESSION_CHART).toFile()));
    assertFalse(r.missing().containsKey("Compression"), r.missing().toString());
    String md = Files.readString(r.markdown());
    assertTrue(md.contains("| fp32 | baseline | 1,500,000 | 6,010,000 | 1.00x | 32.0300 | 12.5000 | +0.00% |"), md);
    assertTrue(md.contains("| q4_0 | quantisation | 1,500,000 | 860,000 | 6.99x | 4.5500 | 13.4000 | +7.20% |"), md);
    assertTrue(md.contains("| trim\\|vocab | vocabulary trimming |") && md.contains("| n/a | n/a |"), md);
    assertTrue(md.contains("evaluation: 16 windows of 256 tokens."), md);
    assertTrue(Files.readString(r.html()).contains("<td>q8_0</td>"));

    ReportGenerator.Result absent = new ReportGenerator(ReportGenerator.Options.defaults(dir.resolve("o2"))
        .withCompressionJson(dir.resolve("nope.json"))).write();
    assertTrue(absent.missing().get("Compression").contains("nope.json does not exist"), absent.missing().toString());

    Path bench = dir.resolve("benchmark.json");
    Files.writeString(bench, BENCHMARK);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ReportGenerator(
        ReportGenerator.Options.defaults(dir.resolve("o3")).withCompressionJson(bench)).write());
    assertTrue(e.getMessage().contains("benchmark.json") && e.getMessage().contains("'kind'"), e.getMessage());
  }

  @Test
  void benchmarkWithoutPerplexityOrKernelsSaysWhy() throws Exception {
    Path bench = dir.resolve("b.json");
    Files.writeString(bench, """
        {"schemaVersion":1,"system":{"cpuModel":"x"},"roofline":null,
         "models":[{"name":"m","params":10,"bytes":40,"prefillTokensPerSec":5.0,"decodeTokensPerSec":2.0,
                    "perplexity":null}],
         "kernels":[]}
        """);
    ReportGenerator.Result r = new ReportGenerator(ReportGenerator.Options.defaults(dir).withBenchmarkJson(bench)).write();
    assertTrue(r.missing().get("Size vs perplexity").contains("without evaluation text"), r.missing().toString());
    assertTrue(r.missing().get("Kernel roofline").contains("lists no kernels"), r.missing().toString());
    assertTrue(r.charts().containsKey(ReportGenerator.THROUGHPUT_CHART));
    assertTrue(Files.readString(r.markdown()).contains("no energy entry"));
  }

  @Test
  void wrongHeaderNamesFileAndColumn() throws Exception {
    Path csv = dir.resolve("bad.csv");
    Files.writeString(csv, "step,tokens_seen,lr,train_loss,validation_loss,grad_norm,tokens_per_s,aux_loss,expert_load\n");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new ReportGenerator(ReportGenerator.Options.defaults(dir.resolve("o")).withMetricsCsv(csv)).write());
    assertTrue(e.getMessage().contains(csv.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("column 5") && e.getMessage().contains("'validation_loss'")
        && e.getMessage().contains("'val_loss'"), e.getMessage());

    Files.writeString(csv, String.join(",", MetricsCsv.COLUMNS) + "\n1,64,abc,3.0,,1.5,1000.0,0.0,\n");
    e = assertThrows(IllegalArgumentException.class, () -> MetricsCsv.read(csv));
    assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("'lr'"), e.getMessage());

    Path bench = dir.resolve("bad.json");
    Files.writeString(bench, "{\"models\": {}}");
    e = assertThrows(IllegalArgumentException.class,
        () -> new ReportGenerator(ReportGenerator.Options.defaults(dir.resolve("o")).withBenchmarkJson(bench)).write());
    assertTrue(e.getMessage().contains("bad.json") && e.getMessage().contains("'models'"), e.getMessage());
  }

  @Test
  void expertLayersAreRecoveredFromSums() {
    assertEquals(2, ReportGenerator.expertsPerLayer(new double[] {0.5, 0.5, 0.25, 0.75}));
    assertEquals(3, ReportGenerator.expertsPerLayer(new double[] {0.2, 0.3, 0.5}));
    assertEquals(4, ReportGenerator.expertsPerLayer(new double[] {0.1, 0.2, 0.3, 0.3}), "no grouping sums to 1");
  }

  @Test
  void optionsAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> ReportGenerator.Options.defaults(dir).withChartSize(10, 400));
    assertThrows(IllegalArgumentException.class, () -> ReportGenerator.Options.defaults(dir).withTitle(" "));
  }
}
