"""Pictures in and out, downloads, and where a run happens (device profiles, Colab)."""
