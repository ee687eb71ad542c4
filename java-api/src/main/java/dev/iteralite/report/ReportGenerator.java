package dev.iteralite.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Writes a training and benchmark report: {@code report.md} next to a {@code charts/} folder of PNG
 * files, and a self-contained {@code report.html} with the same charts embedded as base64. Sections:
 * training and validation loss (metrics CSV), size vs perplexity of the model variants, prefill and
 * decode throughput, the kernel roofline, expert load (metrics CSV), energy and system (benchmark
 * JSON), and the compression table with its size-vs-perplexity chart (a {@code compression.json} from
 * {@link dev.iteralite.compress.CompressionReport}). An input that is absent, or that lacks what a section needs, makes that section say so and
 * why; nothing is estimated or drawn from made-up numbers. Charts are drawn headless with XChart.
 *
 * <pre>{@code
 * ReportGenerator.Result r = new ReportGenerator(ReportGenerator.Options.defaults(Path.of("target/itera"))
 *     .withMetricsCsv(Path.of("target/itera/checkpoints/tiny/metrics.csv"))
 *     .withBenchmarkJson(Path.of("target/itera/benchmark.json"))).write();
 * }</pre>
 */
public final class ReportGenerator {
  /** Chart file names under {@code charts/}. */
  public static final String LOSS_CHART = "loss.png";
  public static final String FRONTIER_CHART = "size-vs-perplexity.png";
  public static final String THROUGHPUT_CHART = "throughput.png";
  public static final String ROOFLINE_CHART = "roofline.png";
  public static final String EXPERT_LOAD_CHART = "expert-load.png";
  public static final String COMPRESSION_CHART = "compression.png";

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * What to read and where to write.
   *
   * @param metricsCsv a trainer's metrics CSV, or null when there was no training run
   * @param benchmarkJson a {@code benchmark.json} (java-api/BENCHMARK-SCHEMA.md), or null
   * @param compressionJson a {@code compression.json} ({@link dev.iteralite.compress.CompressionReport}), or null
   * @param outputDirectory where {@code report.md}, {@code report.html} and {@code charts/} go
   * @param title the report's heading
   * @param chartWidth chart width in pixels, in [200, 4000]
   * @param chartHeight chart height in pixels, in [150, 4000]
   */
  public record Options(Path metricsCsv, Path benchmarkJson, Path compressionJson, Path outputDirectory, String title,
      int chartWidth, int chartHeight) {
    public Options {
      Objects.requireNonNull(outputDirectory, "report: outputDirectory must be set");
      if (title == null || title.isBlank()) {
        throw new IllegalArgumentException("report: title must not be blank");
      }
      if (chartWidth < 200 || chartWidth > 4000) {
        throw new IllegalArgumentException("report: chartWidth must be in [200, 4000] pixels, got " + chartWidth);
      }
      if (chartHeight < 150 || chartHeight > 4000) {
        throw new IllegalArgumentException("report: chartHeight must be in [150, 4000] pixels, got " + chartHeight);
      }
    }

    /** Options without a compression report (the form before {@code compressionJson} existed). */
    public Options(Path metricsCsv, Path benchmarkJson, Path outputDirectory, String title, int chartWidth,
        int chartHeight) {
      this(metricsCsv, benchmarkJson, null, outputDirectory, title, chartWidth, chartHeight);
    }

    /** No inputs yet, 800 × 500 charts, title "Itera-Lite report". */
    public static Options defaults(Path outputDirectory) {
      return new Options(null, null, null, outputDirectory, "Itera-Lite report", 800, 500);
    }

    public Options withMetricsCsv(Path v) {
      return new Options(v, benchmarkJson, compressionJson, outputDirectory, title, chartWidth, chartHeight);
    }

    public Options withBenchmarkJson(Path v) {
      return new Options(metricsCsv, v, compressionJson, outputDirectory, title, chartWidth, chartHeight);
    }

    /** These options with a {@code compression.json} to report (null for none). */
    public Options withCompressionJson(Path v) {
      return new Options(metricsCsv, benchmarkJson, v, outputDirectory, title, chartWidth, chartHeight);
    }

    public Options withTitle(String v) {
      return new Options(metricsCsv, benchmarkJson, compressionJson, outputDirectory, v, chartWidth, chartHeight);
    }

    public Options withChartSize(int width, int height) {
      return new Options(metricsCsv, benchmarkJson, compressionJson, outputDirectory, title, width, height);
    }
  }

  /**
   * What was written.
   *
   * @param markdown {@code report.md}
   * @param html {@code report.html}
   * @param charts chart files by file name, in report order
   * @param missing section title → why it has no chart or table
   */
  public record Result(Path markdown, Path html, Map<String, Path> charts, Map<String, String> missing) {}

  private final Options options;

  /** A generator for these options; nothing is read until {@link #write()}. */
  public ReportGenerator(Options options) {
    this.options = Objects.requireNonNull(options, "options");
  }

  /**
   * Reads the inputs, draws the charts and writes the report files (each replaced atomically).
   *
   * @throws IllegalArgumentException when an input exists but is malformed (the message names the
   *     file and the column or field)
   * @throws IOException when reading or writing fails
   */
  public Result write() throws IOException {
    MetricsCsv metrics = null;
    String metricsWhy = null;
    if (options.metricsCsv() == null) {
      metricsWhy = "no metrics CSV was given (train with a metricsCsv to get training curves)";
    } else if (!Files.isRegularFile(options.metricsCsv())) {
      metricsWhy = "the metrics CSV " + options.metricsCsv() + " does not exist";
    } else {
      metrics = MetricsCsv.read(options.metricsCsv());
      if (metrics.rows().isEmpty()) {
        metricsWhy = "the metrics CSV " + options.metricsCsv() + " has a header but no rows";
        metrics = null;
      }
    }
    JsonNode bench = null;
    String benchWhy = null;
    if (options.benchmarkJson() == null) {
      benchWhy = "no benchmark.json was given (run the benchmark goal first)";
    } else if (!Files.isRegularFile(options.benchmarkJson())) {
      benchWhy = "the benchmark file " + options.benchmarkJson() + " does not exist (run the benchmark goal first)";
    } else {
      try {
        bench = JSON.readTree(options.benchmarkJson().toFile());
      } catch (IOException e) {
        throw new IllegalArgumentException("benchmark file " + options.benchmarkJson() + " is not valid JSON: "
            + e.getMessage(), e);
      }
      if (bench == null || !bench.isObject()) {
        throw new IllegalArgumentException("benchmark file " + options.benchmarkJson() + " must hold one JSON object");
      }
      for (String array : List.of("models", "kernels")) {
        if (bench.has(array) && !bench.get(array).isArray()) {
          throw new IllegalArgumentException("benchmark file " + options.benchmarkJson() + ": field '" + array
              + "' must be an array");
        }
      }
    }

    JsonNode compression = null;
    String compressionWhy = null;
    Path cj = options.compressionJson();
    if (cj == null) {
      compressionWhy = "no compression.json was given (run the compress goal first)";
    } else if (!Files.isRegularFile(cj)) {
      compressionWhy = "the compression report " + cj + " does not exist (run the compress goal first)";
    } else {
      compression = readCompression(cj);
    }

    List<Section> sections = new ArrayList<>();
    sections.add(lossSection(metrics, metricsWhy));
    sections.add(frontierSection(bench, benchWhy));
    sections.add(compressionSection(compression, compressionWhy));
    sections.add(throughputSection(bench, benchWhy));
    sections.add(rooflineSection(bench, benchWhy));
    sections.add(expertSection(metrics, metricsWhy));
    sections.add(energySection(bench, benchWhy));
    sections.add(systemSection(bench, benchWhy));

    Path out = options.outputDirectory();
    Path chartDir = out.resolve("charts");
    Files.createDirectories(chartDir);
    Map<String, Path> charts = new LinkedHashMap<>();
    Map<String, String> missing = new LinkedHashMap<>();
    for (Section s : sections) {
      if (s.png != null) {
        Path p = chartDir.resolve(s.chartFile);
        writeAtomically(p, s.png);
        charts.put(s.chartFile, p);
      }
      if (s.missing != null) {
        missing.put(s.title, s.missing);
      }
    }
    Path md = out.resolve("report.md");
    Path html = out.resolve("report.html");
    writeAtomically(md, markdown(sections).getBytes(StandardCharsets.UTF_8));
    writeAtomically(html, html(sections).getBytes(StandardCharsets.UTF_8));
    return new Result(md, html, Collections.unmodifiableMap(charts), Collections.unmodifiableMap(missing));
  }

  // ------------------------------------------------------------------ sections

  /** One report section: text, an optional table and chart, or why it has neither. */
  private static final class Section {
    final String title;
    final List<String> text = new ArrayList<>();
    List<String> tableHeader;
    final List<List<String>> tableRows = new ArrayList<>();
    String chartFile;
    String chartAlt;
    byte[] png;
    String missing;

    Section(String title) {
      this.title = title;
    }

    Section missing(String why) {
      this.missing = why;
      return this;
    }
  }

  private Section lossSection(MetricsCsv m, String why) throws IOException {
    Section s = new Section("Training and validation loss");
    if (m == null) {
      return s.missing(why);
    }
    List<Long> steps = new ArrayList<>();
    List<Double> train = new ArrayList<>();
    List<Long> valSteps = new ArrayList<>();
    List<Double> val = new ArrayList<>();
    for (MetricsCsv.Row r : m.rows()) {
      steps.add(r.step());
      train.add(r.trainLoss());
      if (!Double.isNaN(r.valLoss())) {
        valSteps.add(r.step());
        val.add(r.valLoss());
      }
    }
    XYChart c = new XYChartBuilder().width(options.chartWidth()).height(options.chartHeight())
        .title("Training and validation loss").xAxisTitle("step").yAxisTitle("cross-entropy (nats/token)").build();
    style(c);
    XYSeries t = c.addSeries("train", steps, train);
    t.setMarker(SeriesMarkers.NONE);
    if (!val.isEmpty()) {
      c.addSeries("validation", valSteps, val);
    }
    MetricsCsv.Row last = m.rows().get(m.rows().size() - 1);
    s.text.add(String.format(Locale.ROOT, "%d steps, %,d training tokens (from %s).", last.step(), last.tokensSeen(),
        m.file().getFileName()));
    s.tableHeader = List.of("metric", "value");
    s.tableRows.add(List.of("final train loss", num(last.trainLoss())));
    if (val.isEmpty()) {
      s.text.add("The run never evaluated, so there is no validation curve (set evalEvery and give validation data).");
    } else {
      double best = val.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
      s.tableRows.add(List.of("last validation loss", num(val.get(val.size() - 1))));
      s.tableRows.add(List.of("best validation loss", num(best)));
      s.tableRows.add(List.of("best validation perplexity", num(Math.exp(best))));
    }
    double tps = m.rows().stream().mapToDouble(MetricsCsv.Row::tokensPerSecond).sorted()
        .skip(m.rows().size() / 2).findFirst().orElse(Double.NaN);
    s.tableRows.add(List.of("median training tokens/s", num(tps)));
    return chart(s, c, LOSS_CHART, "training and validation loss by step");
  }

  private Section frontierSection(JsonNode bench, String why) throws IOException {
    Section s = new Section("Size vs perplexity");
    if (bench == null) {
      return s.missing(why);
    }
    List<JsonNode> models = list(bench, "models");
    List<JsonNode> withPpl = new ArrayList<>();
    for (JsonNode m : models) {
      if (isNumber(m, "perplexity") && isNumber(m, "params")) {
        withPpl.add(m);
      }
    }
    if (withPpl.isEmpty()) {
      return s.missing(models.isEmpty() ? "benchmark.json lists no models"
          : "no model in benchmark.json has a perplexity (it is null when the benchmark ran without evaluation text)");
    }
    XYChart c = frontierChart("Size vs perplexity", "parameters", withPpl, "params");
    s.tableHeader = List.of("model", "params", "bytes", "perplexity", "bits/byte");
    for (JsonNode m : models) {
      s.tableRows.add(List.of(text(m, "name"), num(m, "params"), num(m, "bytes"), num(m, "perplexity"),
          num(m, "bitsPerByte")));
    }
    if (withPpl.size() < models.size()) {
      s.text.add((models.size() - withPpl.size()) + " of " + models.size()
          + " models have no perplexity (null in benchmark.json) and are not drawn.");
    }
    return chart(s, c, FRONTIER_CHART, "parameters against perplexity for each model variant");
  }

  /**
   * A log-x scatter of {@code points}' {@code xField} against their perplexity, one series per point
   * (named by its {@code name}), with the frontier of points no smaller one beats drawn as a line.
   */
  private XYChart frontierChart(String title, String xTitle, List<JsonNode> points, String xField) {
    XYChart c = new XYChartBuilder().width(options.chartWidth()).height(options.chartHeight())
        .title(title).xAxisTitle(xTitle).yAxisTitle("perplexity").build();
    style(c);
    c.getStyler().setXAxisLogarithmic(true);
    java.util.Set<String> used = new java.util.HashSet<>(List.of("frontier"));
    for (JsonNode m : points) {
      XYSeries p = c.addSeries(unique(used, text(m, "name")), new double[] {m.get(xField).asDouble()},
          new double[] {m.get("perplexity").asDouble()});
      p.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
    }
    // The frontier: variants that no smaller model beats on perplexity.
    List<JsonNode> sorted = new ArrayList<>(points);
    sorted.sort((a, b) -> Double.compare(a.get(xField).asDouble(), b.get(xField).asDouble()));
    List<Double> fx = new ArrayList<>();
    List<Double> fy = new ArrayList<>();
    double best = Double.POSITIVE_INFINITY;
    for (JsonNode m : sorted) {
      double ppl = m.get("perplexity").asDouble();
      if (ppl < best) {
        best = ppl;
        fx.add(m.get(xField).asDouble());
        fy.add(ppl);
      }
    }
    if (fx.size() > 1) {
      XYSeries f = c.addSeries("frontier", fx, fy);
      f.setMarker(SeriesMarkers.NONE);
      f.setLineColor(Color.GRAY);
    }
    return c;
  }

  /** Reads a compression.json; a file that is not one is rejected naming the file and the field. */
  private static JsonNode readCompression(Path file) {
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new IllegalArgumentException("compression report " + file + " is not valid JSON: " + e.getMessage(), e);
    }
    if (root == null || !root.isObject()) {
      throw new IllegalArgumentException("compression report " + file + " must hold one JSON object");
    }
    if (!"itera-compression-report".equals(root.path("kind").asText())) {
      throw new IllegalArgumentException("compression report " + file + ": field 'kind' must be "
          + "'itera-compression-report' (is this a benchmark.json? pass it as the benchmark input)");
    }
    if (!root.has("rows") || !root.get("rows").isArray()) {
      throw new IllegalArgumentException("compression report " + file + ": field 'rows' must be an array");
    }
    return root;
  }

  private Section compressionSection(JsonNode report, String why) throws IOException {
    Section s = new Section("Compression");
    if (report == null) {
      return s.missing(why);
    }
    List<JsonNode> rows = list(report, "rows");
    if (rows.isEmpty()) {
      return s.missing("the compression report lists no variants");
    }
    s.tableHeader = List.of("variant", "technique", "parameters", "bytes on disk", "size ratio", "bits/weight",
        "perplexity", "Δ perplexity", "word perplexity", "bits/byte", "prefill tok/s", "decode tok/s",
        "prefill speed-up", "decode speed-up");
    List<JsonNode> drawn = new ArrayList<>();
    for (JsonNode r : rows) {
      s.tableRows.add(List.of(text(r, "name"), text(r, "technique"), num(r, "parameters"), num(r, "bytesOnDisk"),
          times(r, "sizeRatio"), num(r, "bitsPerWeight"), num(r, "perplexity"),
          isNumber(r, "perplexityChange") ? String.format(Locale.ROOT, "%+.2f%%", 100 * r.get("perplexityChange").asDouble())
              : "n/a", num(r, "wordPerplexity"), num(r, "bitsPerByte"), num(r, "prefillTokensPerSec"),
          num(r, "decodeTokensPerSec"), times(r, "prefillSpeedup"), times(r, "decodeSpeedup")));
      if (isNumber(r, "perplexity") && isNumber(r, "bytesOnDisk") && r.get("bytesOnDisk").asDouble() > 0) {
        drawn.add(r);
      }
    }
    JsonNode sys = report.get("system");
    if (sys != null && sys.isObject()) {
      for (String f : List.of("evaluation", "timing", "createdAt")) {
        if (sys.hasNonNull(f)) {
          s.text.add(f + ": " + sys.get(f).asText() + ".");
        }
      }
    }
    s.text.add("Bytes on disk are the checkpoint's files; size ratio and speed-ups are against the first (baseline) "
        + "row, all measured in one run.");
    if (drawn.isEmpty()) {
      s.text.add("No variant has both a perplexity and a size, so there is no chart.");
      return s;
    }
    XYChart c = frontierChart("Compression: size vs perplexity", "bytes on disk", drawn, "bytesOnDisk");
    return chart(s, c, COMPRESSION_CHART, "bytes on disk against perplexity for each compressed variant");
  }

  private static String times(JsonNode n, String field) {
    return isNumber(n, field) ? String.format(Locale.ROOT, "%.2fx", n.get(field).asDouble()) : "n/a";
  }

  private Section throughputSection(JsonNode bench, String why) throws IOException {
    Section s = new Section("Throughput");
    if (bench == null) {
      return s.missing(why);
    }
    List<String> names = new ArrayList<>();
    List<Double> prefill = new ArrayList<>();
    List<Double> decode = new ArrayList<>();
    s.tableHeader = List.of("model", "prefill tok/s", "decode tok/s", "latency p50 ms", "latency p95 ms",
        "peak RSS bytes", "FLOPs/token");
    for (JsonNode m : list(bench, "models")) {
      if (isNumber(m, "prefillTokensPerSec") && isNumber(m, "decodeTokensPerSec")) {
        names.add(text(m, "name"));
        prefill.add(m.get("prefillTokensPerSec").asDouble());
        decode.add(m.get("decodeTokensPerSec").asDouble());
      }
      s.tableRows.add(List.of(text(m, "name"), num(m, "prefillTokensPerSec"), num(m, "decodeTokensPerSec"),
          num(m, "latencyP50Ms"), num(m, "latencyP95Ms"), num(m, "peakRssBytes"), num(m, "flopsPerToken")));
    }
    if (names.isEmpty()) {
      s.tableHeader = null;
      s.tableRows.clear();
      return s.missing("benchmark.json has no model with prefill and decode tokens/s");
    }
    CategoryChart c = new CategoryChartBuilder().width(options.chartWidth()).height(options.chartHeight())
        .title("Throughput").xAxisTitle("model").yAxisTitle("tokens/s").build();
    style(c);
    c.addSeries("prefill", names, prefill);
    c.addSeries("decode", names, decode);
    return chart(s, c, THROUGHPUT_CHART, "prefill and decode tokens per second per model");
  }

  private Section rooflineSection(JsonNode bench, String why) throws IOException {
    Section s = new Section("Kernel roofline");
    if (bench == null) {
      return s.missing(why);
    }
    List<JsonNode> kernels = list(bench, "kernels");
    s.tableHeader = List.of("kernel", "shape", "median ns", "GFLOP/s", "GB/s", "FLOPs/byte", "of roofline");
    List<double[]> points = new ArrayList<>();
    List<String> labels = new ArrayList<>();
    for (JsonNode k : kernels) {
      double intensity = intensity(k);
      s.tableRows.add(List.of(text(k, "name"), text(k, "shape"), num(k, "medianNs"), num(k, "gflops"), num(k, "gbps"),
          Double.isNaN(intensity) ? "n/a" : num(intensity), isNumber(k, "rooflineFraction")
              ? String.format(Locale.ROOT, "%.1f%%", 100 * k.get("rooflineFraction").asDouble()) : "n/a"));
      if (!Double.isNaN(intensity) && intensity > 0 && isNumber(k, "gflops") && k.get("gflops").asDouble() > 0) {
        points.add(new double[] {intensity, k.get("gflops").asDouble()});
        labels.add(text(k, "name") + " " + text(k, "shape"));
      }
    }
    if (points.isEmpty()) {
      s.tableHeader = null;
      s.tableRows.clear();
      return s.missing(kernels.isEmpty() ? "benchmark.json lists no kernels (the benchmark ran with kernels=none)"
          : "no kernel in benchmark.json has both GFLOP/s and an arithmetic intensity");
    }
    XYChart c = new XYChartBuilder().width(options.chartWidth()).height(options.chartHeight())
        .title("Kernel roofline").xAxisTitle("arithmetic intensity (FLOPs/byte)").yAxisTitle("GFLOP/s").build();
    style(c);
    c.getStyler().setXAxisLogarithmic(true);
    c.getStyler().setYAxisLogarithmic(true);
    JsonNode roof = bench.get("roofline");
    double minI = points.stream().mapToDouble(p -> p[0]).min().orElseThrow();
    double maxI = points.stream().mapToDouble(p -> p[0]).max().orElseThrow();
    if (roof != null && isNumber(roof, "peakGflops") && isNumber(roof, "bandwidthGbps")) {
      double peak = roof.get("peakGflops").asDouble();
      double bw = roof.get("bandwidthGbps").asDouble();
      double ridge = peak / bw;
      double lo = Math.min(minI, ridge) / 4;
      double hi = Math.max(maxI, ridge) * 4;
      XYSeries mem = c.addSeries(String.format(Locale.ROOT, "memory roof %.1f GB/s", bw),
          new double[] {lo, ridge}, new double[] {lo * bw, peak});
      mem.setMarker(SeriesMarkers.NONE);
      mem.setLineColor(Color.DARK_GRAY);
      XYSeries compute = c.addSeries(String.format(Locale.ROOT, "compute roof %.1f GFLOP/s", peak),
          new double[] {ridge, hi}, new double[] {peak, peak});
      compute.setMarker(SeriesMarkers.NONE);
      compute.setLineColor(Color.BLACK);
      s.text.add(String.format(Locale.ROOT, "Measured roofline: %.1f GFLOP/s peak (SGEMM), %.1f GB/s (copy), ridge at "
          + "%.2f FLOPs/byte.", peak, bw, ridge));
    } else {
      s.text.add("benchmark.json has no measured roofline (its 'roofline' is null), so only the kernels' points are "
          + "drawn, without roofline lines.");
    }
    java.util.Set<String> used = new java.util.HashSet<>();
    c.getSeriesCollection().forEach(x -> used.add(x.getName()));
    for (int i = 0; i < points.size(); i++) {
      XYSeries p = c.addSeries(unique(used, labels.get(i)), new double[] {points.get(i)[0]}, new double[] {points.get(i)[1]});
      p.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
    }
    return chart(s, c, ROOFLINE_CHART, "kernel GFLOP/s against arithmetic intensity with the measured roofline");
  }

  private Section expertSection(MetricsCsv m, String why) throws IOException {
    Section s = new Section("Expert load");
    if (m == null) {
      return s.missing(why);
    }
    MetricsCsv.Row last = m.lastWithExpertLoad();
    if (last == null) {
      return s.missing("the expert_load column of " + m.file().getFileName()
          + " is empty on every row: the model has no mixture-of-experts layers");
    }
    double[] load = last.expertLoad();
    int perLayer = expertsPerLayer(load);
    int layers = load.length / perLayer;
    List<String> experts = new ArrayList<>();
    for (int e = 0; e < perLayer; e++) {
      experts.add("expert " + e);
    }
    CategoryChart c = new CategoryChartBuilder().width(options.chartWidth()).height(options.chartHeight())
        .title("Expert load at step " + last.step()).xAxisTitle("expert").yAxisTitle("fraction of routed slots").build();
    style(c);
    c.getStyler().setYAxisDecimalPattern("0.00");
    List<String> header = new ArrayList<>();
    header.add("layer");
    header.addAll(experts);
    s.tableHeader = header;
    for (int l = 0; l < layers; l++) {
      List<Double> ys = new ArrayList<>();
      List<String> row = new ArrayList<>();
      row.add(layers == 1 && perLayer == load.length && Math.abs(sum(load, 0, load.length) - 1) > 0.02 ? "all"
          : "MoE layer " + l);
      for (int e = 0; e < perLayer; e++) {
        ys.add(load[l * perLayer + e]);
        row.add(String.format(Locale.ROOT, "%.3f", load[l * perLayer + e]));
      }
      c.addSeries(row.get(0), experts, ys);
      s.tableRows.add(row);
    }
    s.text.add(String.format(Locale.ROOT, "Routed fraction per expert in the last micro-batch of step %d; a balanced "
        + "router gives %.3f each.", last.step(), 1.0 / perLayer));
    return chart(s, c, EXPERT_LOAD_CHART, "fraction of routed tokens per expert");
  }

  /**
   * The CSV does not record the layer boundaries, but each layer's fractions sum to 1: the layer
   * width is the smallest divisor of the length whose groups all do (rounding to 4 decimals allowed).
   */
  static int expertsPerLayer(double[] load) {
    for (int w = 1; w <= load.length; w++) {
      if (load.length % w != 0) {
        continue;
      }
      boolean ok = true;
      for (int g = 0; g < load.length && ok; g += w) {
        ok = Math.abs(sum(load, g, g + w) - 1) <= 1e-3 * w;
      }
      if (ok) {
        return w;
      }
    }
    return load.length;
  }

  private static double sum(double[] a, int from, int to) {
    double s = 0;
    for (int i = from; i < to; i++) {
      s += a[i];
    }
    return s;
  }

  private Section energySection(JsonNode bench, String why) {
    Section s = new Section("Energy");
    if (bench == null) {
      return s.missing(why);
    }
    List<JsonNode> models = list(bench, "models");
    List<List<String>> rows = new ArrayList<>();
    for (JsonNode m : models) {
      JsonNode e = m.get("energy");
      if (e == null || e.isNull()) {
        rows.add(List.of(text(m, "name"), "not measured", "", "benchmark.json has no energy entry for this model"));
      } else if (e.path("available").asBoolean(false)) {
        rows.add(List.of(text(m, "name"), num(e, "joulesPerToken"), num(e, "watts"), "RAPL " + join(e.get("domains"))));
      } else {
        String reason = e.hasNonNull("reason") ? e.get("reason").asText() : "no reason was recorded";
        rows.add(List.of(text(m, "name"), "unavailable", "", reason));
      }
    }
    if (rows.isEmpty()) {
      return s.missing("benchmark.json lists no models, so no energy was measured");
    }
    s.tableHeader = List.of("model", "joules/token", "watts", "source or reason");
    s.tableRows.addAll(rows);
    s.text.add("Energy comes from the RAPL package counters (Linux powercap) where they are readable; otherwise the "
        + "reason is printed and no figure is given.");
    return s;
  }

  private Section systemSection(JsonNode bench, String why) {
    Section s = new Section("System");
    if (bench == null) {
      return s.missing(why);
    }
    JsonNode sys = bench.get("system");
    if (sys == null || !sys.isObject()) {
      return s.missing("benchmark.json has no 'system' object");
    }
    s.tableHeader = List.of("field", "value");
    for (String f : List.of("cpuModel", "logicalCores", "totalMemoryBytes", "maxIsa", "backend", "threads", "jdkVendor",
        "jdkVersion", "os", "iteraLiteVersion", "javacppVersion", "openblasConfig")) {
      if (sys.has(f)) {
        s.tableRows.add(List.of(f, sys.get(f).isNull() ? "n/a" : sys.get(f).asText()));
      }
    }
    if (bench.hasNonNull("createdAt")) {
      s.text.add("Benchmark run at " + bench.get("createdAt").asText() + ".");
    }
    JsonNode notes = sys.get("notes");
    if (notes != null && notes.isArray()) {
      for (JsonNode n : notes) {
        s.text.add("Note: " + n.asText());
      }
    }
    return s;
  }

  // ------------------------------------------------------------------ helpers

  private Section chart(Section s, Chart<?, ?> c, String file, String alt) throws IOException {
    s.chartFile = file;
    s.chartAlt = alt;
    s.png = BitmapEncoder.getBitmapBytes(c, BitmapEncoder.BitmapFormat.PNG);
    return s;
  }

  private static void style(Chart<?, ?> c) {
    c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    c.getStyler().setChartBackgroundColor(Color.WHITE);
  }

  private static String unique(java.util.Set<String> used, String name) {
    String n = name;
    for (int i = 2; !used.add(n); i++) {
      n = name + " #" + i;
    }
    return n;
  }

  private static double intensity(JsonNode k) {
    if (isNumber(k, "intensity")) {
      return k.get("intensity").asDouble();
    }
    if (isNumber(k, "gflops") && isNumber(k, "gbps") && k.get("gbps").asDouble() > 0) {
      return k.get("gflops").asDouble() / k.get("gbps").asDouble();
    }
    return Double.NaN;
  }

  private static List<JsonNode> list(JsonNode root, String field) {
    List<JsonNode> out = new ArrayList<>();
    JsonNode a = root.get(field);
    if (a != null && a.isArray()) {
      a.forEach(out::add);
    }
    return out;
  }

  private static boolean isNumber(JsonNode n, String field) {
    return n.has(field) && n.get(field).isNumber() && Double.isFinite(n.get(field).asDouble());
  }

  private static String text(JsonNode n, String field) {
    return n.hasNonNull(field) ? n.get(field).asText() : "?";
  }

  private static String num(JsonNode n, String field) {
    return isNumber(n, field) ? num(n.get(field)) : "n/a";
  }

  private static String num(JsonNode v) {
    return v.isIntegralNumber() ? String.format(Locale.ROOT, "%,d", v.asLong()) : num(v.asDouble());
  }

  private static String num(double v) {
    if (!Double.isFinite(v)) {
      return "n/a";
    }
    double a = Math.abs(v);
    return a != 0 && (a < 0.01 || a >= 1e7) ? String.format(Locale.ROOT, "%.3e", v)
        : String.format(Locale.ROOT, a >= 100 ? "%,.1f" : "%.4f", v);
  }

  private static String join(JsonNode array) {
    List<String> out = new ArrayList<>();
    if (array != null && array.isArray()) {
      array.forEach(d -> out.add(d.asText()));
    }
    return String.join(", ", out);
  }

  private static void writeAtomically(Path file, byte[] bytes) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
    try {
      Files.write(tmp, bytes);
      try {
        // createTempFile makes owner-only files; a report is meant to be read by others (CI artifact servers).
        Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
      } catch (UnsupportedOperationException e) {
        // not a POSIX file system: keep the default permissions
      }
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  // ------------------------------------------------------------------ rendering

  private String markdown(List<Section> sections) {
    StringBuilder b = new StringBuilder();
    b.append("# ").append(options.title()).append("\n\n");
    b.append(inputsLine()).append("\n");
    for (Section s : sections) {
      b.append("\n## ").append(s.title).append("\n\n");
      if (s.missing != null) {
        b.append("*Not available:* ").append(mdEscape(s.missing)).append(".\n");
        continue;
      }
      for (String t : s.text) {
        b.append(mdEscape(t)).append("\n\n");
      }
      if (s.png != null) {
        b.append("![").append(s.chartAlt).append("](charts/").append(s.chartFile).append(")\n\n");
      }
      if (s.tableHeader != null) {
        b.append("| ").append(String.join(" | ", s.tableHeader.stream().map(ReportGenerator::cell).toList()))
            .append(" |\n|");
        s.tableHeader.forEach(h -> b.append("---|"));
        b.append('\n');
        for (List<String> r : s.tableRows) {
          b.append("| ").append(String.join(" | ", r.stream().map(ReportGenerator::cell).toList())).append(" |\n");
        }
      }
    }
    return b.toString();
  }

  private String inputsLine() {
    return "Inputs: metrics " + (options.metricsCsv() == null ? "(none)" : options.metricsCsv().toString())
        + ", benchmark " + (options.benchmarkJson() == null ? "(none)" : options.benchmarkJson().toString())
        + ", compression " + (options.compressionJson() == null ? "(none)" : options.compressionJson().toString()) + ".";
  }

  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }

  private static String mdEscape(String s) {
    return s.replace("*", "\\*").replace("_", "\\_");
  }

  private String html(List<Section> sections) {
    StringBuilder b = new StringBuilder();
    b.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>").append(esc(options.title()))
        .append("</title>\n<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}"
            + "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:left}"
            + "img{max-width:100%}.missing{color:#a33}</style>\n</head>\n<body>\n<h1>").append(esc(options.title()))
        .append("</h1>\n<p>").append(esc(inputsLine())).append("</p>\n");
    for (Section s : sections) {
      b.append("<h2>").append(esc(s.title)).append("</h2>\n");
      if (s.missing != null) {
        b.append("<p class=\"missing\"><em>Not available:</em> ").append(esc(s.missing)).append(".</p>\n");
        continue;
      }
      for (String t : s.text) {
        b.append("<p>").append(esc(t)).append("</p>\n");
      }
      if (s.png != null) {
        b.append("<img alt=\"").append(esc(s.chartAlt)).append("\" data-chart=\"").append(s.chartFile)
            .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(s.png)).append("\">\n");
      }
      if (s.tableHeader != null) {
        b.append("<table>\n<tr>");
        s.tableHeader.forEach(h -> b.append("<th>").append(esc(h)).append("</th>"));
        b.append("</tr>\n");
        for (List<String> r : s.tableRows) {
          b.append("<tr>");
          r.forEach(v -> b.append("<td>").append(esc(v)).append("</td>"));
          b.append("</tr>\n");
        }
        b.append("</table>\n");
      }
    }
    return b.append("</body>\n</html>\n").toString();
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
  }
}
