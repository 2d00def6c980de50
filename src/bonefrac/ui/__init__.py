"""The Streamlit UI."""
