package dev.iteralite.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The selection logic behind {@link Backends#select()}, with a CPU loader that can fail on demand. */
class BackendsChooseTest {
  private static final Supplier<Backend> BROKEN =
      () -> {
        throw new IllegalStateException(
            "the native cpu backend is unavailable", new UnsatisfiedLinkError("no jniIteraNative in java.library.path"));
      };
  private static final Supplier<Backend> LINKAGE =
      () -> {
        throw new UnsatisfiedLinkError("libjniIteraNative.so: undefined symbol: itera_foo");
      };

  @Test
  void fallsBackToReferenceWithTheReason() {
    Backends.Selection s = Backends.choose(null, BROKEN);
    assertSame(Backends.reference(), s.backend());
    assertTrue(s.logLine().contains("reference backend"), s.logLine());
    assertTrue(s.logLine().contains("FALLBACK"), s.logLine());
    assertTrue(s.logLine().contains("no jniIteraNative in java.library.path"), "names the root cause: " + s.logLine());
    assertEquals(1, s.logLine().lines().count(), "one line");

    Backends.Selection t = Backends.choose("  ", LINKAGE);
    assertSame(Backends.reference(), t.backend());
    assertTrue(t.logLine().contains("undefined symbol: itera_foo"), t.logLine());
  }

  @Test
  void explicitRequestsNeverFallBack() {
    IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.choose("cpu", BROKEN));
    assertTrue(e.getMessage().contains("unavailable"), e.getMessage());
    assertThrows(UnsatisfiedLinkError.class, () -> Backends.choose("CPU", LINKAGE));
    Backends.Selection r = Backends.choose("Reference", BROKEN);
    assertSame(Backends.reference(), r.backend());
    assertTrue(r.logLine().contains("requested by -Ditera.backend=reference"), r.logLine());
  }

  @Test
  void unknownNamesAreErrors() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.choose("gpu", BROKEN));
    assertTrue(e.getMessage().contains("'gpu'") && e.getMessage().contains("itera.backend"), e.getMessage());
    assertTrue(e.getMessage().contains("'cpu'") && e.getMessage().contains("'reference'"), e.getMessage());
  }

  @Test
  void usesTheLoaderWhenItWorks() {
    ReferenceBackend stand = new ReferenceBackend();
    Backends.Selection s = Backends.choose(null, () -> stand);
    assertSame(stand, s.backend());
    assertTrue(s.logLine().contains("native library loaded"), s.logLine());
  }

  @Test
  void threadCountPropertyIsValidated() {
    assertEquals(0, Backends.parseThreads(null));
    assertEquals(0, Backends.parseThreads(" "));
    assertEquals(3, Backends.parseThreads(" 3 "));
    for (String bad : new String[] {"0", "-2", "two", "1.5"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Backends.parseThreads(bad));
      assertTrue(e.getMessage().contains("itera.threads") && e.getMessage().contains(bad), e.getMessage());
    }
  }
}
