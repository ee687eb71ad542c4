package dev.iteralite.serve;

import static dev.iteralite.serve.ServerTestSupport.await;
import static dev.iteralite.serve.ServerTestSupport.events;
import static dev.iteralite.serve.ServerTestSupport.get;
import static dev.iteralite.serve.ServerTestSupport.json;
import static dev.iteralite.serve.ServerTestSupport.metric;
import static dev.iteralite.serve.ServerTestSupport.post;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.iteralite.backend.Backends;
import dev.iteralite.model.IteraLiteConfig;
import dev.iteralite.model.IteraLiteModel;
import dev.iteralite.tensor.DType;
import dev.iteralite.tensor.NativeMemory;
import dev.iteralite.tokenizer.ByteTokenizer;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAccumulator;
import org.junit.jupiter.api.Test;

/**
 * A bounded load test on loopback: 64 clients send /generate, /v1/completions and streaming
 * completions to the {@code tiny} Itera-Lite for a fixed time ({@code -Ditera.serve.loadSeconds},
 * default 8). Every request must end in a complete 200 answer or a documented 429 (queue full,
 * with Retry-After); the server's request counters must account for every request sent; native
 * memory must stay bounded while running and return exactly to its starting value. Rejected clients
 * wait the advertised Retry-After before their next request.
 */
class ServerLoadTest {
  private static final int CLIENTS = 64;
  private static final int MAX_TOKENS = 16;

  @Test
  void sixtyFourClientsLoseNoRequestAndNativeMemoryStaysFlat() throws Exception {
    double seconds = Double.parseDouble(System.getProperty("itera.serve.loadSeconds", "8"));
    try (IteraLiteModel model = new IteraLiteModel(Backends.cpu(), IteraLiteConfig.tiny(256), DType.F32, 1);
        InferenceServer server = InferenceServer.builder(ServerConfig.builder().port(0).maxConcurrent(4).queueCapacity(16)
                .maxTokens(64).requestTimeout(Duration.ofSeconds(60)).queueTimeout(Duration.ofSeconds(30)).build())
            .model("tiny", model, ByteTokenizer.instance()).start()) {
      assertEquals(200, post(server, "/generate", "{\"prompt\":\"warm\",\"max_tokens\":4}").statusCode());
      long baseline = NativeMemory.unreleasedBytes();
      LongAccumulator peak = new LongAccumulator(Math::max, baseline);
      AtomicLong sent = new AtomicLong();
      AtomicLong ok = new AtomicLong();
      AtomicLong rejected = new AtomicLong();
      Queue<String> failures = new ConcurrentLinkedQueue<>();
      long end = System.nanoTime() + (long) (seconds * 1e9);
      ExecutorService pool = Executors.newFixedThreadPool(CLIENTS + 1);
      try {
        Future<?> sampler = pool.submit(() -> {
          while (System.nanoTime() < end) {
            peak.accumulate(NativeMemory.unreleasedBytes());
            try {
              Thread.sleep(20);
            } catch (InterruptedException e) {
              return;
            }
          }
        });
        Future<?>[] clients = new Future<?>[CLIENTS];
        for (int c = 0; c < CLIENTS; c++) {
          int client = c;
          clients[c] = pool.submit(() -> {
            for (int i = 0; System.nanoTime() < end; i++) {
              int kind = i % 3;
              String path = kind == 0 ? "/generate" : "/v1/completions";
              boolean stream = kind == 2;
              String body = "{\"prompt\":\"client " + client + " request " + i + "\",\"max_tokens\":" + MAX_TOKENS
                  + ",\"temperature\":0.8,\"seed\":" + (client * 100_000L + i)
                  + (stream ? ",\"stream\":true,\"stream_options\":{\"include_usage\":true}" : "") + "}";
              sent.incrementAndGet();
              try {
                HttpResponse<String> r = post(server, path, body);
                if (r.statusCode() == 200) {
                  int tokens;
                  if (stream) {
                    List<JsonNode> ev = events(r.body());
                    tokens = ev.get(ev.size() - 1).get("usage").get("completion_tokens").asInt();
                  } else if (kind == 0) {
                    tokens = json(r).get("generated_tokens").asInt();
                  } else {
                    tokens = json(r).get("usage").get("completion_tokens").asInt();
                  }
                  if (tokens != MAX_TOKENS) {
                    failures.add(path + ": " + tokens + " tokens instead of " + MAX_TOKENS + ": " + r.body());
                  }
                  ok.incrementAndGet();
                } else if (r.statusCode() == 429 && r.headers().firstValue("Retry-After").isPresent()
                    && json(r).get("error").get("code").asText().equals("queue_full")) {
                  rejected.incrementAndGet();
                  // A well-behaved client waits as told.
                  Thread.sleep(1000L * Integer.parseInt(r.headers().firstValue("Retry-After").get()));
                } else {
                  failures.add(path + " -> " + r.statusCode() + " " + r.body());
                }
              } catch (Throwable e) {
                failures.add(path + " threw " + e);
              }
            }
          });
        }
        for (Future<?> f : clients) {
          f.get((long) seconds + 120, TimeUnit.SECONDS);
        }
        sampler.get();
      } finally {
        pool.shutdownNow();
      }
      double wall = seconds;
      System.out.printf("load: %d clients, %.1f s: %d sent, %d ok (%.1f req/s, %.0f generated tok/s), %d x 429, peak native +%d bytes%n",
          CLIENTS, wall, sent.get(), ok.get(), ok.get() / wall, ok.get() * MAX_TOKENS / wall, rejected.get(), peak.get() - baseline);
      assertTrue(failures.isEmpty(), failures.size() + " failed requests, e.g. " + failures.peek());
      assertTrue(ok.get() > 0 && rejected.get() > 0, "the load both completed requests and filled the queue");
      assertEquals(sent.get(), ok.get() + rejected.get());
      // The server answered exactly the requests that were sent (its counters are updated just after
      // the answer leaves, so wait for them to settle).
      await("server counters match the clients'", () -> {
        try {
          String m = get(server, "/metrics").body();
          double okSeen = metric(m, "itera_requests_total{endpoint=\"/generate\",code=\"200\"}")
              + metric(m, "itera_requests_total{endpoint=\"/v1/completions\",code=\"200\"}");
          double rejectedSeen = metric(m, "itera_requests_total{endpoint=\"/generate\",code=\"429\"}")
              + metric(m, "itera_requests_total{endpoint=\"/v1/completions\",code=\"429\"}");
          return okSeen == ok.get() + 1 && rejectedSeen == rejected.get(); // + the warm-up request
        } catch (Exception e) {
          return false;
        }
      }, Duration.ofSeconds(10));
      await("idle", () -> server.activeGenerations() == 0 && server.queueDepth() == 0, Duration.ofSeconds(10));
      assertEquals(baseline, NativeMemory.unreleasedBytes(), "every decoding state was freed");
      assertTrue(peak.get() - baseline < 64L << 20, "native memory while running stayed bounded: +" + (peak.get() - baseline));
    }
  }
}
