// Runs on the audio thread: turns the microphone's float blocks (128 samples per render quantum) into
// 16-bit PCM frames of `frameSamples` and posts each to the page, which sends it over the WebSocket.
class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.frameSamples = options.processorOptions.frameSamples;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
  }

  process(inputs) {
    const input = inputs[0];
    if (input && input.length > 0) {
      const mono = input[0];
      for (let i = 0; i < mono.length; i++) {
        const x = Math.max(-1, Math.min(1, mono[i]));
        this.frame[this.filled++] = x < 0 ? x * 0x8000 : x * 0x7fff;
        if (this.filled === this.frameSamples) {
          this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
          this.frame = new Int16Array(this.frameSamples);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
