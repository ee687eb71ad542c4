package dev.iteralite.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CompletableFuture;
import org.apache.maven.plugin.MojoExecutionException;
import org.apache.maven.plugin.logging.SystemStreamLog;
import org.junit.jupiter.api.Test;

class ServeMojoTest {
  private static ServeMojo serve() {
    ServeMojo m = new ServeMojo();
    m.host = "127.0.0.1";
    m.port = 0;
    m.maxConcurrent = 1;
    m.queueCapacity = 4;
    m.maxTokens = 64;
    m.seed = 42;
    m.setLog(new SystemStreamLog() {
      @Override
      public boolean isInfoEnabled() {
        return false;
      }

      @Override
      public void info(CharSequence content) {}
    });
    return m;
  }

  @Test
  void servesThePresetOverHttpForTheConfiguredTime() throws Exception {
    ServeMojo m = serve();
    m.preset = "tiny";
    m.durationSeconds = 4;
    CompletableFuture<Void> run = CompletableFuture.runAsync(() -> {
      try {
        m.execute();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    long deadline = System.nanoTime() + 3_000_000_000L;
    while (m.boundPort < 0 && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertTrue(m.boundPort > 0, "the server should be up within 3 s");
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + m.boundPort;
    HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, health.statusCode());
    HttpResponse<String> gen = http.send(HttpRequest.newBuilder(URI.create(base + "/generate"))
        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"ab\",\"max_tokens\":5,\"temperature\":0}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, gen.statusCode(), gen.body());
    assertTrue(gen.body().contains("\"generated_tokens\":5"), gen.body());
    run.get(); // returns once durationSeconds have passed and the server is closed
  }

  @Test
  void badSettingsNameTheElement() {
    ServeMojo m = serve();
    m.preset = "tiny";
    m.port = 70000;
    MojoExecutionException e = assertThrows(MojoExecutionException.class, m::validate);
    assertTrue(e.getMessage().contains("<port>"), e.getMessage());
    m.port = 0;
    m.durationSeconds = -1;
    e = assertThrows(MojoExecutionException.class, m::validate);
    assertTrue(e.getMessage().contains("<durationSeconds>"), e.getMessage());
    m.durationSeconds = 0;
    m.apiKeyEnv = "ITERA_SURELY_UNSET_VARIABLE_42";
    e = assertThrows(MojoExecutionException.class, m::validate);
    assertTrue(e.getMessage().contains("<apiKeyEnv>"), e.getMessage());
  }
}
