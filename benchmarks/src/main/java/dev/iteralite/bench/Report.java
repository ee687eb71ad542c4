package dev.iteralite.bench;

import dev.iteralite.backend.Backends;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;

/**
 * Runs JMH programmatically and prints one summary table: benchmark, shape, threads, median time
 * per call (the 50th percentile of JMH's measurement statistics), spread ((max - min) / median over
 * the measurement iterations), GFLOP/s (GEMM) or GB/s
 * (memory-bound kernels), and a ratio: API or raw-JNI GEMM against OpenBLAS's own cblas_sgemm (GEMV:
 * cblas_sgemv) on the same shape, memory-bound kernels against the memory bandwidth measured in the
 * same run (the best of the copy, rawAdd and read-only readStream baselines at the same n and threads).
 *
 * <pre>
 * java -cp benchmarks.jar dev.iteralite.bench.Report                 # everything (~10 min)
 * java -cp benchmarks.jar dev.iteralite.bench.Report Gemm            # an include regex
 * java -cp benchmarks.jar dev.iteralite.bench.Report -wi 1 -i 2 -p threads=1 Elementwise
 * </pre>
 *
 * Arguments are JMH's own command line (regexes, -wi, -i, -w, -r, -f, -p name=v1,v2, -t ...).
 */
public final class Report {
  private Report() {}

  /** One measured benchmark/parameter combination. */
  record Row(
      String benchClass, String method, Map<String, String> params, double median, double min, double max, String unit,
      int samples) {
    double secondsPerOp() {
      return Report.secondsPerOp(median, unit);
    }

    String param(String key) {
      return params.getOrDefault(key, "");
    }

    String shapeLabel() {
      if (params.containsKey("shape")) {
        return param("shape");
      }
      if (params.containsKey("n")) {
        return "n=" + param("n");
      }
      if (params.containsKey("size")) {
        return "n=" + param("size");
      }
      return "";
    }
  }

  public static void main(String[] args) throws Exception {
    CommandLineOptions options = new CommandLineOptions(args);
    Collection<RunResult> results = new Runner(options).run();
    List<Row> rows = new ArrayList<>();
    for (RunResult rr : results) {
      BenchmarkParams p = rr.getParams();
      String full = p.getBenchmark();
      int dot = full.lastIndexOf('.');
      String cls = full.substring(0, dot);
      cls = cls.substring(cls.lastIndexOf('.') + 1);
      Map<String, String> params = new HashMap<>();
      for (String key : p.getParamsKeys()) {
        params.put(key, p.getParam(key));
      }
      Result<?> primary = rr.getPrimaryResult();
      var st = primary.getStatistics();
      boolean any = st.getN() > 0;
      double median = any ? st.getPercentile(50) : primary.getScore();
      rows.add(new Row(cls, full.substring(dot + 1), params, median, any ? st.getMin() : median, any ? st.getMax() : median,
          primary.getScoreUnit(), (int) st.getN()));
    }
    System.out.println();
    System.out.println(header());
    System.out.print(table(rows));
  }

  private static String header() {
    String cpu;
    try {
      cpu = Backends.cpu().describe();
    } catch (RuntimeException | LinkageError e) {
      cpu = "cpu backend unavailable: " + e;
    }
    return "Itera-Lite benchmark summary (" + Runtime.getRuntime().availableProcessors() + " logical CPUs, Java "
        + System.getProperty("java.version") + ")\n" + cpu + "\n";
  }

  private static boolean isBandwidthBaseline(String method) {
    return method.equals("copy") || method.equals("rawAdd") || method.equals("readStream");
  }

  /** The summary table for the given rows (one line per row). */
  static String table(List<Row> rows) {
    // references measured in the same run: OpenBLAS per (class, shape, threads); memory bandwidth per
    // (n, threads) = the best of the stream baselines: copy, rawAdd and the read-only readStream
    Map<String, Double> blasGflops = new HashMap<>();
    Map<String, Double> bandwidth = new HashMap<>();
    Map<String, String> bandwidthFrom = new HashMap<>();
    double bestBandwidth = 0;
    for (Row r : rows) {
      if ((r.benchClass().equals("GemmBenchmark") && r.method().equals("openblas"))
          || (r.benchClass().equals("GemvBenchmark") && r.method().equals("openblasGemv"))) {
        blasGflops.put(r.benchClass() + "/" + r.param("shape") + "/" + r.param("threads"), gflops(r));
      }
      if (r.benchClass().equals("ElementwiseBenchmark") && isBandwidthBaseline(r.method())) {
        double g = gbps(r);
        String key = r.param("n") + "/" + r.param("threads");
        if (g > bandwidth.getOrDefault(key, 0.0)) {
          bandwidth.put(key, g);
          bandwidthFrom.put(key, r.method());
        }
        bestBandwidth = Math.max(bestBandwidth, g);
      }
    }
    StringBuilder sb = new StringBuilder();
    String fmt = "%-24s %-15s %7s %11s %7s %15s  %s%n";
    sb.append(String.format(Locale.ROOT, fmt, "benchmark", "shape", "threads", "median", "spread", "throughput", "ratio"));
    for (Row r : rows) {
      String name = r.benchClass().replace("Benchmark", "") + "." + r.method();
      String throughput = "";
      String ratio = "";
      if (r.benchClass().equals("GemmBenchmark") || r.benchClass().equals("GemvBenchmark")) {
        double g = gflops(r);
        throughput = String.format(Locale.ROOT, "%.1f GFLOP/s", g);
        Double ref = blasGflops.get(r.benchClass() + "/" + r.param("shape") + "/" + r.param("threads"));
        if (ref != null && ref > 0) {
          ratio = String.format(Locale.ROOT, "%.2fx OpenBLAS", g / ref);
        }
      } else if (r.benchClass().equals("ElementwiseBenchmark")) {
        double g = gbps(r);
        if (g > 0) {
          throughput = String.format(Locale.ROOT, "%.1f GB/s", g);
          String key = r.param("n") + "/" + r.param("threads");
          Double ref = bandwidth.get(key);
          double base = ref != null ? ref : bestBandwidth;
          if (base > 0) {
            ratio = String.format(Locale.ROOT, "%.0f%% of measured BW (%.1f GB/s, %s)", 100 * g / base, base,
                ref != null ? bandwidthFrom.get(key) : "best");
          }
        }
      }
      // spread: (max - min) / median over the measurement iterations; large values mean a noisy machine
      String spread = r.median() > 0 ? String.format(Locale.ROOT, "%.0f%%", 100 * (r.max() - r.min()) / r.median()) : "";
      sb.append(String.format(
          Locale.ROOT, fmt, name, r.shapeLabel(), r.param("threads"), formatTime(r.secondsPerOp()), spread, throughput, ratio));
    }
    return sb.toString();
  }

  static double gflops(Row r) {
    return GemmBenchmark.Shape.parse(r.param("shape")).flops() / r.secondsPerOp() / 1e9;
  }

  static double gbps(Row r) {
    long n = BenchSupport.parseSize(r.param("n"));
    return ElementwiseBenchmark.bytesMoved(r.method(), n) / r.secondsPerOp() / 1e9;
  }

  /** Converts a JMH score to seconds per operation: "us/op" style (time) or "ops/us" style (throughput). */
  static double secondsPerOp(double score, String unit) {
    String u = unit.trim();
    if (u.startsWith("ops/")) {
      return 1.0 / (score / unitSeconds(u.substring(4)));
    }
    int slash = u.indexOf('/');
    return score * unitSeconds(slash < 0 ? u : u.substring(0, slash));
  }

  private static double unitSeconds(String u) {
    switch (u) {
      case "ns":
        return 1e-9;
      case "us":
        return 1e-6;
      case "ms":
        return 1e-3;
      case "s":
        return 1;
      case "min":
        return 60;
      default:
        throw new IllegalArgumentException("unknown time unit " + u);
    }
  }

  private static String formatTime(double s) {
    if (s < 1e-6) {
      return String.format(Locale.ROOT, "%.1f ns", s * 1e9);
    }
    if (s < 1e-3) {
      return String.format(Locale.ROOT, "%.2f us", s * 1e6);
    }
    if (s < 1) {
      return String.format(Locale.ROOT, "%.3f ms", s * 1e3);
    }
    return String.format(Locale.ROOT, "%.3f s", s);
  }
}
