package media

// videoAudioCopy lists, per output container, the audio codecs that are stream-copied.
// Copying keeps the soundtrack bit-exact and costs nothing; the lists hold what the
// muxer writes without -strict and what common players read:
//
//   - mp4: aac, mp3, alac, ac3, eac3 and opus (Opus in MP4 is standard and ffmpeg
//     5.1 writes it; FLAC in MP4 is still "experimental" there, so it is re-encoded);
//   - mov: the same less opus, which ffmpeg refuses in MOV, plus 16/24-bit PCM;
//   - webm: opus and vorbis, the only audio WebM allows;
//   - mkv: anything (Matroska holds every codec), so mkv is not listed.
var videoAudioCopy = map[string]map[string]bool{
	ContainerMP4:  {"aac": true, "mp3": true, "alac": true, "ac3": true, "eac3": true, "opus": true},
	ContainerMOV:  {"aac": true, "mp3": true, "alac": true, "ac3": true, "eac3": true, "pcm_s16le": true, "pcm_s16be": true, "pcm_s24le": true, "pcm_s24be": true},
	ContainerWebM: {"opus": true, "vorbis": true},
}

// videoAudioArgs returns the output arguments for the source's audio codec in
// container: -c:a copy when the container takes the codec as it is, otherwise a
// re-encode to AAC at 192 kb/s (mp4, mov: what every player decodes) or Opus at
// 128 kb/s (webm), both transparent for speech and music at these rates.
func videoAudioArgs(container, codec string) (args []string, copied bool) {
	if container == ContainerMKV || videoAudioCopy[container][codec] {
		return []string{"-c:a", "copy"}, true
	}
	if container == ContainerWebM {
		return []string{"-c:a", "libopus", "-b:a", "128k"}, false
	}
	return []string{"-c:a", "aac", "-b:a", "192k"}, false
}
