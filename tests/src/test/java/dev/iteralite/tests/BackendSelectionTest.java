package dev.iteralite.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.iteralite.backend.Backend;
import dev.iteralite.backend.Backends;
import dev.iteralite.backend.CpuBackend;
import dev.iteralite.backend.CpuFeatures;
import dev.iteralite.backend.Isa;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@code Backends.select()} honours {@code -Ditera.backend}, rejects unknown names and logs one line. */
class BackendSelectionTest {
  private String saved;

  @BeforeEach
  void save() {
    saved = System.getProperty(Backends.PROPERTY);
  }

  @AfterEach
  void restore() {
    if (saved == null) {
      System.clearProperty(Backends.PROPERTY);
    } else {
      System.setProperty(Backends.PROPERTY, saved);
    }
  }

  /** Runs select() capturing stderr (where slf4j-simple writes). */
  private static String[] selectLogging(Supplier<Backend> call, Backend[] out) {
    PrintStream original = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      out[0] = call.get();
    } finally {
      System.setErr(original);
    }
    return buf.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toArray(String[]::new);
  }

  @Test
  void propertyOverride() {
    Backend[] b = new Backend[1];
    System.setProperty(Backends.PROPERTY, "reference");
    String[] lines = selectLogging(Backends::select, b);
    assertSame(Backends.reference(), b[0]);
    assertEquals(1, lines.length, "exactly one log line: " + String.join("\n", lines));
    assertTrue(lines[0].contains("INFO") && lines[0].contains("reference"), lines[0]);

    System.setProperty(Backends.PROPERTY, " CPU ");
    lines = selectLogging(Backends::select, b);
    assertSame(Backends.cpu(), b[0]);
    assertEquals("cpu", b[0].name());
    assertEquals(1, lines.length, String.join("\n", lines));
    CpuFeatures f = Backends.cpu().features();
    assertTrue(lines[0].contains("cpu backend") && lines[0].contains("ISA") && lines[0].contains("threads")
        && lines[0].contains("OpenBLAS") && lines[0].contains(f.flags().toString()), lines[0]);
  }

  @Test
  void automaticChoiceIsCpuHere() {
    System.clearProperty(Backends.PROPERTY);
    Backend[] b = new Backend[1];
    String[] lines = selectLogging(Backends::select, b);
    assertEquals("cpu", b[0].name(), "the native library loads on this machine");
    assertEquals(1, lines.length, String.join("\n", lines));
    assertTrue(lines[0].contains("native library loaded"), lines[0]);
    assertTrue(!lines[0].contains("FALLBACK"), lines[0]);
  }

  @Test
  void unknownNameIsAnError() {
    System.setProperty(Backends.PROPERTY, "cuda-magic");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, Backends::select);
    assertTrue(e.getMessage().contains("'cuda-magic'") && e.getMessage().contains(Backends.PROPERTY)
        && e.getMessage().contains("'cpu'") && e.getMessage().contains("'reference'"), e.getMessage());
  }

  @Test
  void cpuIsASingletonWithSaneFeatures() {
    CpuBackend cpu = Backends.cpu();
    assertSame(cpu, Backends.cpu());
    assertEquals("cpu", cpu.name());
    assertEquals("reference", Backends.reference().name());
    CpuFeatures f = cpu.features();
    assertTrue(cpu.isa().level() <= f.maxIsa().level());
    if (f.maxIsa().atLeast(Isa.AVX2)) {
      assertTrue(f.has("AVX2") && f.has("FMA") && f.has("F16C"), f.flags().toString());
    }
    if (f.maxIsa().atLeast(Isa.AVX512)) {
      assertTrue(f.has("AVX512F") && f.has("AVX512BW") && f.has("AVX512DQ") && f.has("AVX512VL"), f.flags().toString());
    }
    assertTrue(!f.blasConfig().isBlank(), "OpenBLAS reports its configuration");
    int saved = cpu.threads();
    try {
      assertEquals(1, cpu.setThreads(1));
      assertEquals(1, cpu.threads());
      assertEquals(2, cpu.setThreads(2), "an explicit count is honoured");
      assertTrue(cpu.setThreads(0) >= 1, "<= 0 means all cores");
    } finally {
      cpu.setThreads(saved);
    }
    Isa savedIsa = cpu.isa();
    try {
      assertEquals(Isa.SCALAR, cpu.setIsa(Isa.SCALAR));
      assertEquals(f.maxIsa(), cpu.setIsa(Isa.AVX512), "setIsa clamps to the highest supported level");
    } finally {
      cpu.setIsa(savedIsa);
    }
  }
}
