package dev.iteralite.checkpoint;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Durable-write helpers shared by the checkpoint writers: fsync of files and directories, atomic rename. */
final class AtomicFiles {
  private AtomicFiles() {}

  /** Writes {@code data} to {@code file} (created or truncated) and forces it to disk. */
  static void writeDurably(Path file, byte[] data) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.wrap(data);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
  }

  /**
   * Replaces {@code target} by {@code data} atomically: a temporary sibling is written and forced,
   * renamed over the target, then the directory is forced, so a crash leaves the old or the new
   * content, never a mixture.
   */
  static void replaceDurably(Path target, byte[] data) throws IOException {
    Path dir = target.toAbsolutePath().getParent();
    Path temp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
    boolean moved = false;
    try {
      writeDurably(temp, data);
      moveAtomically(temp, target);
      moved = true;
      forceDirectory(dir);
    } finally {
      if (!moved) {
        Files.deleteIfExists(temp);
      }
    }
  }

  /** Renames {@code from} to {@code to}, replacing a file there; atomic where the file system allows. */
  static void moveAtomically(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }

  /** Forces a directory's entries to disk (a no-op where the platform cannot open directories). */
  static void forceDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Some platforms (Windows) cannot open a directory; POSIX systems can, and there it must work.
      if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("win")) {
        return;
      }
      throw e;
    }
  }
}
