package dev.iteralite.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RAPL energy on fake powercap trees: sums, wrap-around, and a reason whenever there is no figure. */
class EnergyTest {
  @TempDir Path dir;

  private Path domain(String name, long energy, long max) throws Exception {
    Path d = Files.createDirectories(dir.resolve(name));
    Files.writeString(d.resolve("energy_uj"), energy + "\n");
    Files.writeString(d.resolve("max_energy_range_uj"), max + "\n");
    Files.writeString(d.resolve("name"), "package-" + name.substring(name.indexOf(':') + 1) + "\n");
    return d;
  }

  @Test
  void sumsPackageDomainsAndHandlesWrapAround() throws Exception {
    Path p0 = domain("intel-rapl:0", 1_000_000, 10_000_000);
    Path p1 = domain("intel-rapl:1", 9_500_000, 10_000_000);
    domain("intel-rapl:0:0", 5, 10_000_000); // a sub-domain: already inside package 0, must be skipped
    Energy e = Energy.probe(dir);
    assertTrue(e.available(), e.reason());
    Energy.Meter m = e.start();
    Files.writeString(p0.resolve("energy_uj"), "3000000\n"); // +2 J
    Files.writeString(p1.resolve("energy_uj"), "500000\n"); // wrapped: 0.5 J to the top, then 0.5 J
    EnergyResult r = m.stop(100);
    assertTrue(r.available());
    assertEquals(3.0, r.joules(), 1e-9);
    assertEquals(0.03, r.joulesPerToken(), 1e-12);
    assertEquals(2, r.domains().size(), "sub-domains are not double counted: " + r.domains());
    assertTrue(r.domains().get(0).contains("package-0"), r.domains().toString());
    assertEquals("", r.reason());
  }

  @Test
  void missingPowercapSaysSo() {
    Energy e = Energy.probe(dir.resolve("absent"));
    assertFalse(e.available());
    assertTrue(e.reason().startsWith("powercap not present"), e.reason());
    EnergyResult r = e.start().stop(10);
    assertFalse(r.available());
    assertTrue(Double.isNaN(r.joules()) && Double.isNaN(r.joulesPerToken()), "no invented figure");
    assertEquals(e.reason(), r.reason());
  }

  @Test
  void noPackageDomainSaysSo() throws Exception {
    Files.createDirectories(dir.resolve("dtpm"));
    Energy e = Energy.probe(dir);
    assertFalse(e.available());
    assertTrue(e.reason().contains("no RAPL package domain"), e.reason());
  }

  @Test
  void unreadableCounterSaysWhichFile() throws Exception {
    Path d = Files.createDirectories(dir.resolve("intel-rapl:0"));
    Files.createDirectories(d.resolve("energy_uj")); // a directory where the counter should be
    Energy e = Energy.probe(dir);
    assertFalse(e.available());
    assertTrue(e.reason().contains("energy_uj") || e.reason().contains("intel-rapl:0"), e.reason());
    Files.delete(d.resolve("energy_uj"));
    Files.writeString(d.resolve("energy_uj"), "12\n"); // the range file is still missing
    Energy e2 = Energy.probe(dir);
    assertFalse(e2.available());
    assertTrue(e2.reason().contains("max_energy_range_uj"), e2.reason());
  }

  @Test
  void thisMachineEitherMeasuresOrSaysWhy() {
    Energy e = Energy.probe();
    EnergyResult r = e.start().stop(1);
    if (r.available()) {
      assertTrue(r.joules() >= 0 && Double.isFinite(r.joules()));
    } else {
      assertFalse(r.reason().isBlank());
    }
  }

  @Test
  void wrapArithmeticAndBadArguments() {
    assertEquals(5, Energy.delta(10, 15, 100));
    assertEquals(15, Energy.delta(90, 5, 100));
    assertThrows(IllegalArgumentException.class, () -> Energy.probe(dir).start().stop(-1));
    assertThrows(IllegalArgumentException.class, () -> EnergyResult.unavailable(" "));
  }
}
