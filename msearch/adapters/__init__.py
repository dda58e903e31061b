"""The glue that the LangChain and LlamaIndex adapters share, written once for both.

``models``: naming any framework's embeddings object for the collection's record, and seeing
any framework's sparse model as msearch's ``SparseEmbedder``. ``text``: text search over a
``Store`` (records from texts and vectors, queries in every mode, reranking), so both
frameworks write and read the collection the same way. The store never imports this package;
the framework packages are never imported here either (objects are recognized by what they
provide).
"""
