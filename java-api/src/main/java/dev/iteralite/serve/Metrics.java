package dev.iteralite.serve;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * The server's counters, gauges and latency histograms, rendered in the Prometheus text exposition
 * format (version 0.0.4). Label values come from fixed sets (endpoint names, status codes, model
 * names, stop reasons), never from raw request data, so the number of series stays bounded.
 */
final class Metrics {
  /** Upper bounds (seconds) shared by every latency histogram. */
  private static final double[] BOUNDS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};

  private final Map<String, LongAdder> requests = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> promptTokens = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> generatedTokens = new ConcurrentHashMap<>();
  private final Map<String, LongAdder> generations = new ConcurrentHashMap<>();
  private final Map<String, Histogram> duration = new ConcurrentHashMap<>();
  final Histogram queueWait = new Histogram();
  final Histogram firstToken = new Histogram();
  private final Map<String, LongSupplier> gauges = new TreeMap<>();
  private final Map<String, String> gaugeHelp = new TreeMap<>();

  /** Registers a gauge read at scrape time (call before the server starts). */
  void gauge(String name, String help, LongSupplier value) {
    gauges.put(name, value);
    gaugeHelp.put(name, help);
  }

  /** Counts a finished request and its wall time. */
  void request(String endpoint, int status, double seconds) {
    requests.computeIfAbsent(label("endpoint", endpoint) + "," + label("code", Integer.toString(status)), k -> new LongAdder())
        .increment();
    duration.computeIfAbsent(label("endpoint", endpoint), k -> new Histogram()).observe(seconds);
  }

  /** Counts a finished generation: its tokens and why it ended. */
  void generation(String model, int prompt, int generated, String reason) {
    String m = label("model", model);
    promptTokens.computeIfAbsent(m, k -> new LongAdder()).add(prompt);
    generatedTokens.computeIfAbsent(m, k -> new LongAdder()).add(generated);
    generations.computeIfAbsent(m + "," + label("reason", reason), k -> new LongAdder()).increment();
  }

  /** Total of {@code itera_requests_total} over every label (for tests and health). */
  long requestsTotal() {
    long n = 0;
    for (LongAdder a : requests.values()) {
      n += a.sum();
    }
    return n;
  }

  /** The exposition text. */
  String render() {
    StringBuilder sb = new StringBuilder(4096);
    counter(sb, "itera_requests_total", "HTTP requests answered, by endpoint and status code.", requests);
    histograms(sb, "itera_request_duration_seconds", "Time from arrival to the end of the response, by endpoint.", duration);
    counter(sb, "itera_prompt_tokens_total", "Prompt tokens processed, by model.", promptTokens);
    counter(sb, "itera_generated_tokens_total", "Tokens generated, by model.", generatedTokens);
    counter(sb, "itera_generations_total", "Generations finished, by model and reason (length, stop, time_limit, disconnected, shutdown).", generations);
    histograms(sb, "itera_queue_wait_seconds", "Time admitted requests waited for a generation slot.", Map.of("", queueWait));
    histograms(sb, "itera_time_to_first_token_seconds", "Time from arrival to the first generated token.", Map.of("", firstToken));
    for (Map.Entry<String, LongSupplier> g : gauges.entrySet()) {
      sb.append("# HELP ").append(g.getKey()).append(' ').append(gaugeHelp.get(g.getKey())).append('\n');
      sb.append("# TYPE ").append(g.getKey()).append(" gauge\n");
      sb.append(g.getKey()).append(' ').append(g.getValue().getAsLong()).append('\n');
    }
    return sb.toString();
  }

  private static void counter(StringBuilder sb, String name, String help, Map<String, LongAdder> series) {
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
    sb.append("# TYPE ").append(name).append(" counter\n");
    for (Map.Entry<String, LongAdder> e : new TreeMap<>(series).entrySet()) {
      sb.append(name).append('{').append(e.getKey()).append("} ").append(e.getValue().sum()).append('\n');
    }
  }

  private static void histograms(StringBuilder sb, String name, String help, Map<String, Histogram> series) {
    sb.append("# HELP ").append(name).append(' ').append(help).append('\n');
    sb.append("# TYPE ").append(name).append(" histogram\n");
    for (Map.Entry<String, Histogram> e : new TreeMap<>(series).entrySet()) {
      String labels = e.getKey();
      String sep = labels.isEmpty() ? "" : ",";
      Histogram h = e.getValue();
      long cumulative = 0;
      for (int i = 0; i < BOUNDS.length; i++) {
        cumulative += h.buckets[i].sum();
        sb.append(name).append("_bucket{").append(labels).append(sep).append("le=\"").append(BOUNDS[i]).append("\"} ")
            .append(cumulative).append('\n');
      }
      cumulative += h.buckets[BOUNDS.length].sum();
      sb.append(name).append("_bucket{").append(labels).append(sep).append("le=\"+Inf\"} ").append(cumulative).append('\n');
      String braces = labels.isEmpty() ? "" : "{" + labels + "}";
      sb.append(name).append("_sum").append(braces).append(' ').append(h.sum.sum()).append('\n');
      sb.append(name).append("_count").append(braces).append(' ').append(cumulative).append('\n');
    }
  }

  private static String label(String name, String value) {
    StringBuilder sb = new StringBuilder(name.length() + value.length() + 3).append(name).append("=\"");
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '\\' -> sb.append("\\\\");
        case '"' -> sb.append("\\\"");
        case '\n' -> sb.append("\\n");
        default -> sb.append(c);
      }
    }
    return sb.append('"').toString();
  }

  /** A fixed-bucket latency histogram (lock-free). */
  static final class Histogram {
    private final LongAdder[] buckets = new LongAdder[BOUNDS.length + 1];
    private final DoubleAdder sum = new DoubleAdder();

    Histogram() {
      for (int i = 0; i < buckets.length; i++) {
        buckets[i] = new LongAdder();
      }
    }

    void observe(double seconds) {
      int i = 0;
      while (i < BOUNDS.length && seconds > BOUNDS[i]) {
        i++;
      }
      buckets[i].increment();
      sum.add(seconds);
    }
  }
}
