"""Chat: GGUF models through llama.cpp, chat templates, context policy, conversation store. No Qt."""
