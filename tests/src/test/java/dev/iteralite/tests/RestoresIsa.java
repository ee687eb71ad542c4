package dev.iteralite.tests;

import dev.iteralite.backend.Backends;
import dev.iteralite.backend.Isa;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Puts the CPU backend's ISA level back after each test, for test classes that switch it
 * ({@code @ExtendWith(RestoresIsa.class)}): the level is process-wide, and a test left at a
 * lower one would slow down, or change the code path of, every test after it.
 */
final class RestoresIsa implements BeforeEachCallback, AfterEachCallback {
  private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(RestoresIsa.class);

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getStore(NAMESPACE).put("isa", Backends.cpu().isa());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    Isa saved = context.getStore(NAMESPACE).remove("isa", Isa.class);
    if (saved != null) {
      Backends.cpu().setIsa(saved);
    }
  }
}
