package dev.iteralite.nativelib;

import org.bytedeco.javacpp.Pointer;

/**
 * A non-owning JavaCPP pointer over {@code bytes} bytes at a raw native address, so memory owned
 * elsewhere (Itera-Lite tensors) can reach JavaCPP helpers such as {@link Pointer#memset} and
 * {@link Pointer#asByteBuffer()} or JavaCPP presets. JavaCPP never frees it.
 */
public final class RawPointer extends Pointer {
  public RawPointer(long address, long bytes) {
    this.address = address;
    this.position = 0;
    this.limit = bytes;
    this.capacity = bytes;
  }
}
